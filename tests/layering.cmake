# The layer rule (tests/layering.py): no file of loader/ or host/ includes a
# header of a higher layer or of a sibling it must not know; and the check
# itself reports violations planted in a copy of the tree.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME layering COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/layering.py ${CMAKE_SOURCE_DIR})
  add_test(NAME layering_self_test COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/layering.py --self-test ${CMAKE_SOURCE_DIR})
endif()
