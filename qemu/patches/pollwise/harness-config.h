/* pollwise harness: variant "pollwise" (pollwise's rule, learned block cost). */
#define PW_VARIANT "pollwise"
/* try_poll_mode() uses ctx->poll_ns, a single context-wide window. */
#define PW_WINDOW_PER_HANDLER 0
/* aio_context_set_poll_params() keeps stock's signature; pollwise's own
 * parameters stay at their IOThread defaults in the harness. */
#define PW_HAS_POLL_WEIGHT 0
