# Harness self-test: a case whose command fails must be reported FAIL.
false
echo "not reached"
