/* pollwise harness: variant "stock" (QEMU 10.0.2 as released). */
#define PW_VARIANT "stock"
/* The window try_poll_mode() uses is the largest poll.ns of the handlers in
 * the poll list. */
#define PW_WINDOW_PER_HANDLER 1
