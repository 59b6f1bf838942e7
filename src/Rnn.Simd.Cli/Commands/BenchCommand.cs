using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd bench --configs FILE [--threads N] [--precision f32,bf16,int8] [--json OUT]</c>: the rows of
/// ../shared/peers/configs.tsv with the peers' semantics and timing (warm-up, then ≥ 7 batches over ≈ 1.2 s, median and
/// min per call), one JSON object per row with the peers' fields plus <c>alloc_bytes</c> per call, so that the
/// harness's summarize.py adds a column.
/// </summary>
/// <remarks>
/// With several precisions each row runs at each in turn (the ratios of one run): the network is reduced with
/// <see cref="RecurrentNetwork.WithWeightPrecision"/>; <c>weight_bytes</c> is what a step streams at that precision
/// (the fused matrix at 4, 2 or 1 bytes a weight, plus int8's scales), for the bandwidth floor. Training rows run at
/// float32 only (training keeps float32 weights).
/// </remarks>
internal static class BenchCommand
{
    private static readonly Dictionary<string, CellType> s_cells = new() { ["lstm"] = CellType.Lstm, ["gru"] = CellType.Gru, ["rnn"] = CellType.Rnn };

    public static Command Create()
    {
        var configs = new Option<FileInfo>("--configs") { Description = "Rows: 'cell mode X H B T' per line (# comments), as ../shared/peers/configs.tsv.", Required = true };
        var threads = new Option<int>("--threads") { Description = "Threads per call.", DefaultValueFactory = _ => 1 };
        var json = new Option<FileInfo?>("--json") { Description = "Also append the JSON lines to this file (e.g. ../shared/peers/results/rnn-simd.jsonl)." };
        var precision = new Option<string>("--precision") { Description = "Weight precisions, comma-separated: f32, bf16, int8 (each row runs at each).", DefaultValueFactory = _ => "f32" };
        var command = new Command("bench", "Time the peers' rows (step, seq, train) and print one JSON line per row.") { configs, threads, precision, json };
        command.SetAction(result => Run(result.GetValue(configs)!, result.GetValue(threads), result.GetValue(precision)!, result.GetValue(json)));
        return command;
    }

    private static readonly Dictionary<string, WeightPrecision> s_precisions = new()
    {
        ["f32"] = WeightPrecision.Float32, ["bf16"] = WeightPrecision.BFloat16, ["int8"] = WeightPrecision.Int8,
    };

    private static int Run(FileInfo configs, int threadCount, string precisionList, FileInfo? json)
    {
        var precisions = new List<string>();
        foreach (string name in precisionList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!s_precisions.ContainsKey(name))
            {
                throw new ArgumentException($"--precision takes f32, bf16 or int8 (comma-separated), was '{name}'.");
            }

            precisions.Add(name);
        }

        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be between 1 and 256, was {threadCount}.");
        }

        var rows = new List<(string Cell, string Mode, int X, int H, int B, int T)>();
        foreach (string raw in File.ReadAllLines(configs.FullName))
        {
            string[] f = raw.Split('#', 2)[0].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 6)
            {
                continue;
            }

            if (!s_cells.ContainsKey(f[0]) || f[1] is not ("step" or "seq" or "train")
                || !int.TryParse(f[2], CultureInfo.InvariantCulture, out int x) || !int.TryParse(f[3], CultureInfo.InvariantCulture, out int h)
                || !int.TryParse(f[4], CultureInfo.InvariantCulture, out int b) || !int.TryParse(f[5], CultureInfo.InvariantCulture, out int t)
                || x < 1 || h < 1 || b < 1 || t < 1)
            {
                throw new InvalidDataException($"Bad row in {configs.Name}: '{raw.Trim()}'.");
            }

            rows.Add((f[0], f[1], x, h, b, t));
        }

        using ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null;
        double peak = double.TryParse(Environment.GetEnvironmentVariable($"PEAK_GFLOPS_{threadCount}T"), CultureInfo.InvariantCulture, out double p) ? p : 0;
        using StreamWriter? sink = json is null ? null : new StreamWriter(json.FullName, append: true);
        foreach (var row in rows)
        {
            foreach (string precisionName in precisions)
            {
                if (row.Mode == "train" && precisionName != "f32")
                {
                    continue;
                }

                RunRow(row, precisionName, team, threadCount, peak, sink);
            }
        }

        return 0;
    }

    private static void RunRow((string Cell, string Mode, int X, int H, int B, int T) row, string precisionName, ThreadTeam? team, int threadCount, double peak, StreamWriter? sink)
    {
        var options = new RecurrentNetworkOptions { Cell = s_cells[row.Cell], InputSize = row.X, HiddenSize = row.H };
        Dictionary<string, float[]> parameters = Seeded(options);
        WeightPrecision precision = s_precisions[precisionName];
        RecurrentNetwork network = RecurrentNetwork.FromPyTorch(options, parameters).WithWeightPrecision(precision);
        long weights = (long)options.Gates * row.H * (row.X + row.H);
        long weightBytes = precision switch
        {
            WeightPrecision.BFloat16 => 2 * weights,
            WeightPrecision.Int8 => weights + (4L * options.Gates * row.H),
            _ => 4 * weights,
        };
        var random = new Random(7);
        float[] input = [.. Enumerable.Range(0, row.T * row.B * row.X).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        float[] output = new float[row.T * row.B * row.H];
        Action call;
        using TrainingRow? trainable = row.Mode == "train" ? new TrainingRow(options, parameters, row.T, row.B) : null;
        if (row.Mode == "train")
        {
            // The peers' training step: loss = sum of all outputs, zero initial state, gradients for weights,
            // biases and inputs. Like oneDNN's row, every call re-packs the weights (they change in training)
            // and zeroes the weight gradients (backward accumulates).
            call = () => trainable!.Run(input, output, team);
        }
        else if (row.Mode == "step")
        {
            // One time step per call, the state carried from the previous call (x is [B, X], T is 1 in the rows).
            RecurrentState state = network.CreateState(row.B);
            call = () => network.Step(state, input.AsSpan(0, row.B * row.X), output.AsSpan(0, row.B * row.H), team);
        }
        else
        {
            call = () => network.Forward(input, row.T, row.B, output, threads: team);
        }

        (double median, double min, int perBatch, int batches, double allocated) = Measure(call);
        double flops = 2.0 * options.Gates * row.H * (row.X + row.H) * row.B * row.T * (row.Mode == "train" ? 3 : 1);
        double gflops = flops / median / 1e3;
        var record = new Dictionary<string, object?>
        {
            ["engine"] = "rnn-simd", ["cell"] = row.Cell, ["mode"] = row.Mode, ["X"] = row.X, ["H"] = row.H, ["B"] = row.B, ["T"] = row.T,
            ["threads"] = threadCount, ["median_us"] = Math.Round(median, 3), ["min_us"] = Math.Round(min, 3), ["gflops"] = Math.Round(gflops, 3),
            ["peak_frac"] = peak > 0 ? Math.Round(gflops / peak, 4) : null, ["calls_per_batch"] = perBatch, ["batches"] = batches,
            ["alloc_bytes"] = allocated, ["isa"] = Hardware.VectorPath, ["precision"] = precisionName, ["weight_bytes"] = weightBytes,
        };
        string line = JsonSerializer.Serialize(record);
        Console.WriteLine(line);
        sink?.WriteLine(line);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  rnn-simd {row.Cell,-5} {row.Mode,-5} X={row.X,-5} H={row.H,-5} B={row.B,-3} T={row.T,-4} thr={threadCount} {precisionName,-4}  median {median,10:F1} µs  {gflops,6:F1} GFLOP/s  {allocated} B/call"));
    }

    /// <summary>The peers' method: warm up ≥ 0.3 s and ≥ 3 calls; ≥ 7 batches (default 10) over BENCH_TOTAL_S (1.2 s).</summary>
    private static (double Median, double Min, int PerBatch, int Batches, double AllocatedPerCall) Measure(Action call)
    {
        double total = Setting("BENCH_TOTAL_S", 1.2), warm = Setting("BENCH_WARMUP_S", 0.3);
        int batches = Math.Max(7, (int)Setting("BENCH_BATCHES", 10));
        var clock = Stopwatch.StartNew();
        int n = 0;
        while (n < 3 || clock.Elapsed.TotalSeconds < warm)
        {
            call();
            n++;
        }

        double perCall = clock.Elapsed.TotalSeconds / n;
        int reps = Math.Max(1, (int)Math.Ceiling(total / batches / perCall));
        var micros = new double[batches];
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int b = 0; b < batches; b++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < reps; i++)
            {
                call();
            }

            micros[b] = Stopwatch.GetElapsedTime(start).TotalMicroseconds / reps;
        }

        double allocatedPerCall = (double)(GC.GetAllocatedBytesForCurrentThread() - allocated) / (batches * reps);
        Array.Sort(micros);
        double median = batches % 2 == 1 ? micros[batches / 2] : 0.5 * (micros[(batches / 2) - 1] + micros[batches / 2]);
        return (median, micros[0], reps, batches, allocatedPerCall);
    }

    private static double Setting(string name, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out double v) && v > 0 ? v : fallback;

    private static Dictionary<string, float[]> Seeded(RecurrentNetworkOptions o)
    {
        var random = new Random(5);
        float bound = 1f / MathF.Sqrt(o.HiddenSize);
        float[] Uniform(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(((random.NextDouble() * 2) - 1) * bound))];
        int gh = o.Gates * o.HiddenSize;
        return new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = Uniform(gh * o.InputSize),
            ["weight_hh_l0"] = Uniform(gh * o.HiddenSize),
            ["bias_ih_l0"] = Uniform(gh),
            ["bias_hh_l0"] = Uniform(gh),
        };
    }

    /// <summary>One forward + full backward through time of a single-layer network, as the peers' train rows time it.</summary>
    private sealed class TrainingRow : IDisposable
    {
        private readonly Training.TrainableRecurrentNetwork _network;
        private readonly Training.RecurrentTape _tape;
        private readonly float[] _ones, _gradInput;
        private readonly int _steps, _batch;

        public TrainingRow(RecurrentNetworkOptions options, Dictionary<string, float[]> parameters, int steps, int batch)
        {
            _network = Training.TrainableRecurrentNetwork.FromPyTorch(options, parameters);
            _tape = _network.CreateTape();
            _steps = steps;
            _batch = batch;
            _ones = new float[steps * batch * options.HiddenSize];
            _ones.AsSpan().Fill(1f);
            _gradInput = new float[steps * batch * options.InputSize];
        }

        public void Run(float[] input, float[] output, ThreadTeam? team)
        {
            _network.Parameters.ZeroGradients();
            _network.Parameters.MarkChanged();
            _gradInput.AsSpan().Clear();
            _network.Forward(_tape, input, _steps, _batch, output, threads: team);
            _network.Backward(_tape, _ones, gradInput: _gradInput, threads: team);
        }

        public void Dispose() => _tape.Dispose();
    }
}
