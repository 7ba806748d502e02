/* STUB CLI: replaced by the CLI work */
#include "vkbert.h"
#include <stdio.h>
int main(void) { puts("vkbert"); return 0; }
