/* pollwise harness: variant "weighted" (the 2026 proposal, RFC v1). */
#define PW_VARIANT "weighted"
/* try_poll_mode() uses ctx->poll_ns, a single context-wide window. */
#define PW_WINDOW_PER_HANDLER 0
/* aio_context_set_poll_params() takes a poll-weight argument. */
#define PW_HAS_POLL_WEIGHT 1
