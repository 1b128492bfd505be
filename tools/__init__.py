"""Course maintenance tools (running notebooks, regenerating stored outputs, benchmarks); learners never import these."""
