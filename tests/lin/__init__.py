"""raftd's linearizability test: a checker for per-key registers (checker),
a cluster with faults in network namespaces or on loopback (cluster), and the
concurrent-client driver that records and checks histories (driver).
Standard library only."""
