# Harness self-test: a case that passes.
true
