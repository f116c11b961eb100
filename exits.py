"""Exit codes of every ``noisekit`` command, in one place (their --help text says what each means there)."""

EXIT_OK = 0
EXIT_INVALID = 2  # bad input or arguments: nothing ran
EXIT_FAILED = 3  # failed while running: a node, or an item of a batch
EXIT_GOLDEN = 4  # run --golden: an output differs from its golden beyond the tolerance
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM

SUMMARY = ("Exit codes: 0 success, 2 bad input or arguments, 3 failed while running, 4 outputs differ from "
           "the goldens (run --golden), 130 interrupted (Ctrl-C); each command's --help says what they mean there.")
