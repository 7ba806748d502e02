# Unit tests of the Python training tools (tools/test_tools.py): tokenizer,
# split, vocabulary learner, safetensors I/O with malformed files, the PyTorch
# DistilBERT against hand-written maths, and the consistency of the committed
# models/default/.  Needs Debian's PyTorch (/usr/bin/python3); skips (77) without it.
find_program(VKB_SYS_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(VKB_SYS_PYTHON)
  add_test(NAME tools_python COMMAND ${VKB_SYS_PYTHON} ${CMAKE_SOURCE_DIR}/tools/test_tools.py)
else()
  add_test(NAME tools_python COMMAND sh -c "echo '/usr/bin/python3 not found: skipping'; exit 77")
endif()
set_tests_properties(tools_python PROPERTIES SKIP_RETURN_CODE 77)

# The tools end in a message, never a traceback, on missing arguments, files
# or PyTorch (tools/test_tool_errors.py; needs no PyTorch).
if(VKB_SYS_PYTHON)
  add_test(NAME tools_errors COMMAND ${VKB_SYS_PYTHON} ${CMAKE_SOURCE_DIR}/tools/test_tool_errors.py)
  set_tests_properties(tools_errors PROPERTIES ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
