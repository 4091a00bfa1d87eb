//! The hand-checkable preset of the model tests: constant costs, no
//! jitter, one disk with one queue, a fixed 10 us device. The letters in
//! the comments are the names the tests' arithmetic uses. Shared by
//! sim/tests/model.rs and sim/tests/host.rs.

/// The preset as TOML.
pub const TINY: &str = r#"
name = "tiny"
description = "hand-checkable"
[guest]
vcpus = 1
io_cpu_ns = 1000          # G
io_cpu_ns_per_kib = 0
io_cpu_jitter_sigma = 0.0
irq_cpu_ns = 700          # IR
kick_cpu_ns = 3000
irq_latency_ns = 500      # IL
[iothread]
iteration_ns = 100        # I
poll_check_ns = 10        # pass = 10 x 2 handlers = 20
wakeup_latency_ns = 2000  # W
wakeup_cpu_ns = 300       # C
submit_batch_ns = 200     # SB
submit_ns = 400           # S
complete_ns = 300         # CP
notify_guest_ns = 200     # N
[topology]
disks = 1
queues_per_disk = 1
vq_mapping = "spread"
[device]
parallelism = 4
read_bytes_per_s = 4_096_000_000   # 4 KiB in 1000 ns: T = 1000
write_bytes_per_s = 4_096_000_000
transfer_overhead_ns = 0
read_latency = { kind = "fixed", ns = 10000 }   # L
write_latency = { kind = "fixed", ns = 10000 }
[matrix]
rw = ["randread"]
bs = [4096]
numjobs = [1]
iothreads = [1]
iodepth = 1
duration_ms = 100
warmup_ms = 10
"#;
