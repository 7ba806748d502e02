/* cli_devices.c - `vkbert devices [--json]`: the Vulkan devices (index N
 * is what --device gpu:N selects), the features vkbert uses and what
 * `vkbert tune` chose for each, from the library's vkb_devices_report_tuned(). */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

int cli_devices(cli_opts *o) {
    char *out = NULL;
    vkb_error e = {0};
    if (o->nargs) {
        fprintf(stderr, "vkbert devices: unexpected argument '%s'\n", o->args[0]);
        return CLI_USAGE;
    }
    if (vkb_devices_report_tuned(o->json, o->tune_dir[0] ? o->tune_dir : NULL, &out, &e)) {
        fprintf(stderr, "vkbert devices: %s\n", e.msg);
        return CLI_FAILED;
    }
    size_t n = strlen(out);
    int rc = cli_write_all(1, out, n) == 0 ? CLI_OK : CLI_FAILED;
    if (rc == CLI_OK && n && out[n - 1] != '\n') rc = cli_write_all(1, "\n", 1) ? CLI_FAILED : CLI_OK;
    free(out);
    return rc;
}
