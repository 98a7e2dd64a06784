"""What tests of SAM and of adapters use: the paper's literal formula (`reference`) and the
adapter conformance suite (`conformance`)."""
