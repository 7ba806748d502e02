# The Python tools' tensor inventory (tools/distilbert_tensors.py) is the C
# loader's table (loader/distilbert_tensors.c), row for row: both print-outs
# must be identical.  Needs only /usr/bin/python3 (no PyTorch).
find_program(VKB_TT_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(VKB_TT_PYTHON)
  add_test(NAME tensor_table_python
           COMMAND sh -c "\"$1\" --print > \"$3/tensor_table_c.txt\" && \"$2\" \"$4\" > \"$3/tensor_table_py.txt\" && diff -u \"$3/tensor_table_c.txt\" \"$3/tensor_table_py.txt\""
                   sh $<TARGET_FILE:test_tensor_table> ${VKB_TT_PYTHON} ${CMAKE_CURRENT_BINARY_DIR}
                   ${CMAKE_SOURCE_DIR}/tools/distilbert_tensors.py)
else()
  add_test(NAME tensor_table_python COMMAND sh -c "echo '/usr/bin/python3 not found: skipping'; exit 77")
endif()
set_tests_properties(tensor_table_python PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
