"""What a workload kind does: ``classification`` (train and evaluate a network on a chip) and
``maxcut`` (anneal a graph on an Ising machine); ``checkpoint`` reads and writes run folders."""
