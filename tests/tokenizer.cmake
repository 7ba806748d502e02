# Tokenizer tests beyond tests/test_tokenizer.c: tokdump (token ids per stdin
# line, the tool the comparisons drive) and the comparison with Hugging Face's
# tokenizers from npm (tests/tokenizer/compare.mjs), which skips (77) when
# `npm ci --prefix tests/tokenizer` was not run or ../shared is absent.
add_executable(tokdump ${CMAKE_CURRENT_SOURCE_DIR}/tools/tokdump.c)
target_link_libraries(tokdump PRIVATE vkb_internal_headers)

find_program(VKB_NODE node)
if(VKB_NODE)
  set(VKB_TOK_COMPARE ${VKB_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/compare.mjs)
else()
  set(VKB_TOK_COMPARE sh -c "echo 'node not found: skipping'; exit 77")
endif()
# All 25,000 IMDB training reviews and the hard strings, BERT's uncased vocab.
add_test(NAME tokenizer_hf_imdb
  COMMAND ${VKB_TOK_COMPARE} --tokdump $<TARGET_FILE:tokdump>
          --vocab ${VKB_SHARED_DIR}/data/vocab/bert-base-uncased.txt
          --imdb ${VKB_SHARED_DIR}/data/imdb/train.jsonl.gz
          --hard ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/hard_strings.jsonl)
# The hard strings with a vocab generated at test time (no ../shared needed),
# loaded both from vocab.txt and from tokenizer.json, and with short max_len.
add_test(NAME tokenizer_hf_synthetic
  COMMAND ${VKB_TOK_COMPARE} --tokdump $<TARGET_FILE:tokdump> --synthetic
          --hard ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/hard_strings.jsonl)
set_tests_properties(tokenizer_hf_imdb tokenizer_hf_synthetic PROPERTIES SKIP_RETURN_CODE 77)
