/* cli_devices.c - `vkbert devices`: the Vulkan devices and the features
 * vkbert uses.  Waits for the Vulkan runtime's device listing. */
#include "cli.h"

int cli_devices(cli_opts *o) {
    (void)o;
    fprintf(stderr, "vkbert devices: not available in this build yet\n");
    return CLI_FAILED;
}
