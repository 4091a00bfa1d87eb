#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Describe a patched QEMU tree for pollwise's harness.

    variant-config.py TREE NAME CONFIG_OUT PROPERTIES_OUT

Writes CONFIG_OUT, the harness configuration (pollwise-variant.h) of a
variant built from a patch series pollwise has never seen, and
PROPERTIES_OUT, the IOThread properties of the tree, one per line as
"NAME set" (the harness passes it to aio_context_set_poll_params()) or
"NAME unset" (the schema has it, the harness leaves it at its default).

What is read from the tree:
  qapi/qom.json        IothreadProperties' own members (the QAPI schema)
  iothread.c           the aio_context_set_poll_params() call: which
                       properties reach the AioContext, in which order
  include/block/aio.h  whether struct AioContext has a context-wide
                       poll_ns (the window) or the handlers keep their own

Exits 1 with a message when the tree is outside what the harness can
drive, so the series directory needs its own harness-config.h.
"""

import ast
import re
import sys

# The properties the harness can pass, in aio_context_set_poll_params()'s
# order; poll-weight is optional (the 2026 proposal's signature).
KNOWN_CALLS = (
    ["poll-max-ns", "poll-grow", "poll-shrink"],
    ["poll-max-ns", "poll-grow", "poll-shrink", "poll-weight"],
)


def fail(msg):
    print(f"variant-config: {msg}", file=sys.stderr)
    sys.exit(1)


def read(tree, path):
    try:
        with open(f"{tree}/{path}", encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        fail(f"cannot read {path} in the tree: {e.strerror}")


def schema_properties(tree):
    """IothreadProperties' own members, in schema order."""
    text = read(tree, "qapi/qom.json")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    m = re.search(r"\{\s*'struct':\s*'IothreadProperties'.*?\}\s*\}", text, re.S)
    if not m:
        fail("qapi/qom.json has no IothreadProperties struct")
    try:
        expr = ast.literal_eval(m.group(0))
    except (ValueError, SyntaxError) as e:
        fail(f"cannot read IothreadProperties in qapi/qom.json: {e}")
    return [k.lstrip("*") for k in expr.get("data", {})]


def call_properties(tree):
    """The properties iothread.c passes to aio_context_set_poll_params()."""
    text = read(tree, "iothread.c")
    calls = re.findall(r"aio_context_set_poll_params\s*\(([^;]*)\)\s*;", text, re.S)
    if not calls:
        fail("iothread.c never calls aio_context_set_poll_params()")
    args = [a.strip() for a in calls[0].split(",")]
    props = []
    for a in args[1:-1]:
        m = re.fullmatch(r"iothread->(\w+)", a)
        if not m:
            fail(f"iothread.c passes '{a}' to aio_context_set_poll_params(); the harness "
                 "only knows IOThread fields (iothread->poll_*)")
        props.append(m.group(1).replace("_", "-"))
    if props not in KNOWN_CALLS:
        fail("aio_context_set_poll_params() takes (" + ", ".join(props) + "); the harness "
             "passes (poll-max-ns, poll-grow, poll-shrink[, poll-weight]): put a "
             "harness-config.h for this signature in the series directory")
    return props


def window_is_per_context(tree):
    text = read(tree, "include/block/aio.h")
    m = re.search(r"\nstruct AioContext \{(.*?)\n\};", text, re.S)
    if not m:
        fail("include/block/aio.h has no struct AioContext")
    return re.search(r"\bint64_t\s+poll_ns\s*;", m.group(1)) is not None


def main():
    if len(sys.argv) != 5:
        fail("usage: variant-config.py TREE NAME CONFIG_OUT PROPERTIES_OUT")
    tree, name, config_out, props_out = sys.argv[1:]
    schema = schema_properties(tree)
    called = call_properties(tree)
    per_context = window_is_per_context(tree)
    with open(config_out, "w", encoding="utf-8") as f:
        f.write(f'/* pollwise harness: variant "{name}", generated from its tree. */\n')
        f.write(f'#define PW_VARIANT "{name}"\n')
        f.write("/* " + ("try_poll_mode() uses ctx->poll_ns, one window per context."
                         if per_context else
                         "The window is the largest poll.ns of the polled handlers.") + " */\n")
        f.write(f"#define PW_WINDOW_PER_HANDLER {0 if per_context else 1}\n")
        f.write(f"#define PW_HAS_POLL_WEIGHT {1 if 'poll-weight' in called else 0}\n")
    with open(props_out, "w", encoding="utf-8") as f:
        for p in schema:
            f.write(f"{p} {'set' if p in called else 'unset'}\n")


if __name__ == "__main__":
    main()
