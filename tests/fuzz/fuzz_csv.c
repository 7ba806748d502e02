/* fuzz_csv.c - the CSV reader of host/input.c on arbitrary bytes (the file
 * may also be gzip or zstd compressed); invariants in fuzz_input_check.h. */
#include "fuzz_input_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_input(data, size, VKB_FMT_CSV, "in.csv");
}
