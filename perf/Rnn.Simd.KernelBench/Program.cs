using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.KernelBench;

/// <summary>
/// <c>dotnet run -c Release --project perf/Rnn.Simd.KernelBench</c>: a quick look at GEMM and batch-1 throughput at RNN shapes, as ratios to
/// the FMA peak and read bandwidth measured in the same run. BenchmarkDotNet (perf/Rnn.Simd.Benchmarks)
/// remains the reference for published figures.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        ParseResult parsed = Create().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"rnn-simd-kernels: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
            return 2;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"rnn-simd-kernels: {e.Message}");
            return 1;
        }
    }

    private static RootCommand Create()
    {
        var threads = new Option<int>("--threads") { Description = "Threads per product (1 = the calling thread only).", DefaultValueFactory = _ => 1 };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per row, in seconds.", DefaultValueFactory = _ => 0.4 };
        var cpuTime = new Option<bool>("--cpu-time") { Description = "Time the calling thread's CPU time instead of the wall clock (Linux, 1 thread): other processes on a shared machine then cost less." };
        var shape = new Option<string[]>("--shape") { Description = "Only this product, KERNEL,M,N,K (KERNEL: gemm-packed, gemv-packed, gemm-a.bt, gemm-a.b, gemm-at.b); repeatable.", AllowMultipleArgumentsPerToken = false };
        var row = new Option<string[]>("--row") { Description = "Also a whole sequence of a network, CELL,H,B,T (CELL: lstm, gru, rnn; X = H, from a zero state, as the peers' seq rows), CELL,H,B,T,bf16 or CELL,H,B,T,int8 (the network at that weight precision; f32-rows, bf16-rows, int8-rows pass every length, which keeps the batch out of lanes: the row-major path), or CELL,H,B,T,train (forward and BPTT, as the peers' train rows); repeatable.", AllowMultipleArgumentsPerToken = false };
        var all = new Option<bool>("--all") { Description = "Every shape M ∈ {1,16,64,3200} × N ∈ {1024,2048,4096} × K ∈ {256,512,1024} (slow)." };
        var command = new RootCommand("Measure GEMM and the batch-1 path at RNN shapes (GFLOP/s, fraction of peak).")
        {
            threads, seconds, all, cpuTime, shape, row,
        };
        command.SetAction(result => Run(result.GetValue(cpuTime), result.GetValue(shape) ?? [], result.GetValue(row) ?? [], result.GetValue(threads), result.GetValue(seconds), result.GetValue(all)));
        return command;
    }

    private static int Run(bool cpuTime, string[] only, string[] rows, int threadCount, double seconds, bool all)
    {
        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be between 1 and 256, was {threadCount}.");
        }

        if (!(seconds > 0 && seconds <= 3600))
        {
            throw new ArgumentException($"--seconds must be a positive number of seconds up to 3600, was {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        }

        if (cpuTime && (threadCount != 1 || !OperatingSystem.IsLinux()))
        {
            throw new ArgumentException("--cpu-time measures one thread on Linux: use it with --threads 1.");
        }

        using var team = threadCount > 1 ? new ThreadTeam(threadCount) : null;
        double peak = MachineProbe.FmaPeakGflops(0.5) * threadCount;
        double bandwidth = MachineProbe.ReadBandwidthGBps(2 << 20, 0.5);
        Console.WriteLine($"width {Rnn.Simd.Kernels.Hardware.VectorPath}, threads {threadCount}; measured here: FMA peak {peak:F1} GFLOP/s ({threadCount} thread(s)), read bandwidth 2 MiB {bandwidth:F1} GB/s (1 thread)");
        Console.WriteLine();
        Console.WriteLine($"{"kernel",-16} {"M",5} {"N",5} {"K",5} {"µs/call",10} {"GFLOP/s",8} {"of peak",8} {"GB/s",7} {"of bw",6}");

        var shapes = new List<(string Kernel, int M, int N, int K)>();
        int[] ms = all ? [1, 16, 64, 3200] : [1, 64, 3200];
        int[] ns = all ? [1024, 2048, 4096] : [2048];
        int[] ks = all ? [256, 512, 1024] : [512];
        foreach (int m in ms)
        {
            foreach (int n in ns)
            {
                foreach (int k in ks)
                {
                    shapes.Add((m == 1 ? "gemv-packed" : "gemm-packed", m, n, k));
                    if (m > 1)
                    {
                        shapes.Add(("gemm-a.bt", m, n, k));
                    }
                }
            }
        }

        shapes.Add(("gemv-packed", 1, 1024, 512));
        shapes.Add(("gemm-packed", 64, (6 * 512) + 7, 512));
        shapes.Add(("gemm-a.b", 64, 1024, 1024));
        shapes.Add(("gemm-at.b", 1024, 1024, 64));

        if (only.Length > 0 || rows.Length > 0)
        {
            shapes.Clear();
            foreach (string item in only)
            {
                string[] f = item.Split(',');
                string[] kernels = ["gemm-packed", "gemv-packed", "gemm-a.bt", "gemm-a.b", "gemm-at.b"];
                if (f.Length != 4 || !kernels.Contains(f[0]) || !int.TryParse(f[1], out int m) || !int.TryParse(f[2], out int n) || !int.TryParse(f[3], out int k)
                    || m < 1 || n < 1 || k < 1 || (long)m * n > 1 << 28 || (long)n * k > 1 << 28 || (long)m * k > 1 << 28 || (f[0] == "gemv-packed" && m != 1))
                {
                    throw new ArgumentException($"--shape must be KERNEL,M,N,K with KERNEL one of {string.Join(", ", kernels)} (gemv-packed: M = 1) and sizes from 1 with each matrix at most 2^28 values, was '{item}'.");
                }

                shapes.Add((f[0], m, n, k));
            }
        }

        foreach ((string kernel, int m, int n, int k) in shapes)
        {
            double micros = Measure(kernel, m, n, k, team, seconds, cpuTime);
            double gflops = 2.0 * m * n * k / micros / 1e3;
            double gbps = (double)n * k * sizeof(float) / micros / 1e3;
            string bw = m == 1 ? $"{gbps,7:F1} {gbps / bandwidth,6:P0}" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kernel,-16} {m,5} {n,5} {k,5} {micros,10:F1} {gflops,8:F1} {gflops / peak,8:P0} {bw}"));
        }

        foreach (string item in rows)
        {
            (Rnn.Simd.Layers.RecurrentNetworkOptions o, int batch, int steps, bool train, Rnn.Simd.Kernels.WeightPrecision precision, bool rowMajor) = ParseRow(item);
            RowCalls = 0;
            long dispatches = team?.Dispatches ?? 0;
            double micros = MeasureRow(o, batch, steps, train, precision, rowMajor, team, seconds, cpuTime);
            double gflops = (train ? 3 : 1) * 2.0 * o.Gates * o.HiddenSize * (o.InputSize + o.HiddenSize) * batch * steps / micros / 1e3;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"seq " + item,-22} {micros,16:F1} {gflops,8:F1} {gflops / peak,8:P0}"));
            if (team is not null)
            {
                // How often the call handed work to the team (each dispatch waits for every thread).
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  team dispatches per call: {(double)(team.Dispatches - dispatches) / RowCalls:F1}"));
            }
        }

        return 0;
    }

    private static (Rnn.Simd.Layers.RecurrentNetworkOptions Options, int Batch, int Steps, bool Train, Rnn.Simd.Kernels.WeightPrecision Precision, bool Rows) ParseRow(string item)
    {
        string[] f = item.Split(',');
        bool rows = f.Length == 5 && f[4].EndsWith("-rows", StringComparison.Ordinal);
        if (rows)
        {
            f[4] = f[4][..^"-rows".Length];
        }

        bool train = f.Length == 5 && f[4] == "train";
        Rnn.Simd.Kernels.WeightPrecision? precision = f.Length == 4 || train ? Rnn.Simd.Kernels.WeightPrecision.Float32 : f[4] switch
        {
            "f32" => Rnn.Simd.Kernels.WeightPrecision.Float32,
            "bf16" => Rnn.Simd.Kernels.WeightPrecision.BFloat16,
            "int8" => Rnn.Simd.Kernels.WeightPrecision.Int8,
            _ => null,
        };
        Rnn.Simd.Cells.CellType? cell = f.Length is 4 or 5 && precision is not null ? f[0] switch
        {
            "lstm" => Rnn.Simd.Cells.CellType.Lstm,
            "gru" => Rnn.Simd.Cells.CellType.Gru,
            "rnn" => Rnn.Simd.Cells.CellType.Rnn,
            _ => null,
        } : null;
        if (cell is null || !int.TryParse(f[1], out int h) || !int.TryParse(f[2], out int b) || !int.TryParse(f[3], out int t)
            || h is < 1 or > 4096 || b is < 1 or > 4096 || t is < 1 or > 10_000 || (long)b * t * h > 1 << 26)
        {
            throw new ArgumentException($"--row must be CELL,H,B,T[,train|f32|bf16|int8] with CELL one of lstm, gru, rnn, H and B from 1 to 4096, T from 1 to 10000 and B·T·H at most 2^26, was '{item}'.");
        }

        return (new Rnn.Simd.Layers.RecurrentNetworkOptions { Cell = cell.Value, InputSize = h, HiddenSize = h }, b, t, train, precision!.Value, rows);
    }

    /// <summary>
    /// A seeded network's forward over [T, B, H] inputs from a zero state, or with <paramref name="train"/> a training
    /// step as the peers' train rows and TrainingBenchmarks time it (forward recording, BPTT of the sum of the outputs,
    /// the weights marked changed so that they are re-packed), timed as <see cref="Measure"/> times a product.
    /// </summary>
    /// <summary>Calls of the row being measured, warm-up included (for per-call counts).</summary>
    private static long RowCalls;

    private static double MeasureRow(
        Rnn.Simd.Layers.RecurrentNetworkOptions o, int batch, int steps, bool train, Rnn.Simd.Kernels.WeightPrecision precision, bool rowMajor, ThreadTeam? team, double seconds, bool cpuTime)
    {
        var random = new Random(5);
        int gh = o.Gates * o.HiddenSize;
        var parameters = new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = RandomArray(random, gh * o.InputSize, 1 / MathF.Sqrt(o.HiddenSize)),
            ["weight_hh_l0"] = RandomArray(random, gh * o.HiddenSize, 1 / MathF.Sqrt(o.HiddenSize)),
            ["bias_ih_l0"] = RandomArray(random, gh, 1 / MathF.Sqrt(o.HiddenSize)),
            ["bias_hh_l0"] = RandomArray(random, gh, 1 / MathF.Sqrt(o.HiddenSize)),
        };
        float[] x = RandomArray(random, steps * batch * o.InputSize), y = new float[steps * batch * o.LayerOutputSize];
        if (train)
        {
            var trainable = Rnn.Simd.Training.TrainableRecurrentNetwork.FromPyTorch(o, parameters);
            using Rnn.Simd.Training.RecurrentTape tape = trainable.CreateTape();
            float[] ones = new float[y.Length], dx = new float[x.Length];
            ones.AsSpan().Fill(1f);
            return Time(
                () =>
                {
                    RowCalls++;
                    trainable.Parameters.ZeroGradients();
                    trainable.Parameters.MarkChanged();
                    dx.AsSpan().Clear();
                    trainable.Forward(tape, x, steps, batch, y, threads: team);
                    trainable.Backward(tape, ones, gradInput: dx, threads: team);
                },
                seconds,
                cpuTime);
        }

        var network = Rnn.Simd.Layers.RecurrentNetwork.FromPyTorch(o, parameters).WithWeightPrecision(precision);
        int[] lengths = rowMajor ? [.. Enumerable.Repeat(steps, batch)] : [];
        return Time(
            () =>
            {
                RowCalls++;
                network.Forward(x, steps, batch, y, lengths: lengths, threads: team);
            },
            seconds,
            cpuTime);
    }

    /// <summary>Median µs per call over batches of about <paramref name="seconds"/>/10 each, after a warm-up.</summary>
    private static double Measure(string kernel, int m, int n, int k, ThreadTeam? team, double seconds, bool cpuTime)
    {
        var random = new Random(1234);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, n * k), c = new float[m * n];
        PackedMatrix? packed = kernel.Contains("packed", StringComparison.Ordinal) ? PackedMatrix.FromRowsAsColumns(b, n, k, k) : null;
        Action call = kernel switch
        {
            "gemm-a.bt" => () => Gemm.MultiplyABt(m, n, k, a, k, b, k, c, n, accumulate: false, team),
            "gemm-a.b" => () => Gemm.MultiplyAB(m, n, k, a, k, b, n, c, n, accumulate: false, team),
            "gemm-at.b" => () => Gemm.MultiplyAtB(m, n, k, a, m, b, n, c, n, accumulate: false, team),
            _ => () => Gemm.MultiplyPacked(m, a, k, packed!, c, n, accumulate: false, team),
        };
        return Time(call, seconds, cpuTime);
    }

    private static double Time(Action call, double seconds, bool cpuTime)
    {
        var watch = Stopwatch.StartNew();
        int calls = 0;
        while (watch.Elapsed.TotalSeconds < Math.Min(0.2, seconds / 2) || calls < 3)
        {
            call();
            calls++;
        }

        int perBatch = Math.Max(1, (int)(calls / watch.Elapsed.TotalSeconds * seconds / 10));
        var batches = new double[10];
        for (int batch = 0; batch < batches.Length; batch++)
        {
            long start = Stopwatch.GetTimestamp();
            double cpuStart = cpuTime ? ThreadCpuMicroseconds() : 0;
            for (int i = 0; i < perBatch; i++)
            {
                call();
            }

            batches[batch] = (cpuTime ? ThreadCpuMicroseconds() - cpuStart : Stopwatch.GetElapsedTime(start).TotalMicroseconds) / perBatch;
        }

        Array.Sort(batches);
        return batches[batches.Length / 2];
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID).</summary>
    private static double ThreadCpuMicroseconds()
    {
        _ = ClockGetTime(3, out TimeSpec t);
        return (t.Seconds * 1e6) + (t.Nanoseconds / 1e3);
    }

    private static float[] RandomArray(Random random, int length, float bound = 1f)
    {
        var data = new float[length];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1) * bound;
        }

        return data;
    }
}
