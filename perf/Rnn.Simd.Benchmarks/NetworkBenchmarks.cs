using BenchmarkDotNet.Attributes;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Benchmarks;

/// <summary>A row of ../shared/peers/configs.tsv: cell, hidden size (= input size), batch and steps.</summary>
public readonly record struct RnnRow(CellType Cell, int Hidden, int Batch, int Steps)
{
    public override string ToString() => $"{Cell.ToString().ToLowerInvariant()} H={Hidden} B={Batch} T={Steps}";

    public RecurrentNetworkOptions Options => new() { Cell = Cell, InputSize = Hidden, HiddenSize = Hidden };

    /// <summary>The peers' FLOP count: 2·G·H·(X+H)·B·T.</summary>
    public double Flops => 2.0 * Options.Gates * Hidden * 2.0 * Hidden * Batch * Steps;
}

/// <summary>Shared set-up: a seeded network in PyTorch layout, its inputs, a thread team.</summary>
public abstract class NetworkBenchmarkBase : IThroughput
{
    protected RecurrentNetwork Network = null!;
    protected Dictionary<string, float[]> Parameters = null!;
    protected float[] Input = [], Output = [];
    protected ThreadTeam? Team;

    public abstract RnnRow Row { get; set; }

    /// <summary>1 and 2 threads; RNN_BENCH_THREADS=1 (a comma-separated list) narrows a long per-ISA run.</summary>
    public static IEnumerable<int> ThreadCounts() =>
        Environment.GetEnvironmentVariable("RNN_BENCH_THREADS") is { Length: > 0 } list ? list.Split(',').Select(int.Parse) : [1, 2];

    /// <summary>The rows named in RNN_BENCH_ROWS (';'-separated, as their ToString prints them), or all.</summary>
    internal static IEnumerable<TRow> Pick<TRow>(IEnumerable<TRow> rows) =>
        Environment.GetEnvironmentVariable("RNN_BENCH_ROWS") is { Length: > 0 } names
            ? rows.Where(r => names.Split(';').Contains(r?.ToString()))
            : rows;

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public virtual double Flops => Row.Flops;

    public virtual double Bytes => Row.Batch == 1 ? 4.0 * Row.Options.Gates * Row.Hidden * 2 * Row.Hidden : 0;

    [GlobalSetup]
    public void Setup()
    {
        RecurrentNetworkOptions o = Row.Options;
        var random = new Random(5);
        float bound = 1f / MathF.Sqrt(o.HiddenSize);
        float[] Uniform(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * bound))];
        int gh = o.Gates * o.HiddenSize;
        Parameters = new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = Uniform(gh * o.InputSize),
            ["weight_hh_l0"] = Uniform(gh * o.HiddenSize),
            ["bias_ih_l0"] = Uniform(gh),
            ["bias_hh_l0"] = Uniform(gh),
        };
        Network = RecurrentNetwork.FromPyTorch(o, Parameters);
        Input = Uniform(Row.Steps * Row.Batch * o.InputSize);
        Output = new float[Row.Steps * Row.Batch * o.OutputSize];
        Team = Threads > 1 ? new ThreadTeam(Threads) : null;
        AfterSetup();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        BeforeCleanup();
        Team?.Dispose();
    }

    protected virtual void BeforeCleanup()
    {
    }

    protected virtual void AfterSetup()
    {
    }
}

/// <summary>Streaming latency: one time step at B = 1, the state carried from the previous call (the peers' step rows).</summary>
public class StepBenchmarks : NetworkBenchmarkBase
{
    private RecurrentState _state = null!;

    public static IEnumerable<RnnRow> Rows() => Pick<RnnRow>(
    [
        new(CellType.Lstm, 128, 1, 1), new(CellType.Lstm, 256, 1, 1), new(CellType.Lstm, 512, 1, 1), new(CellType.Lstm, 1024, 1, 1),
        new(CellType.Gru, 256, 1, 1), new(CellType.Gru, 512, 1, 1), new(CellType.Rnn, 256, 1, 1), new(CellType.Rnn, 512, 1, 1),
    ]);

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    protected override void AfterSetup() => _state = Network.CreateState();

    [Benchmark]
    public void Step() => Network.Step(_state, Input, Output, Team);
}

/// <summary>Whole sequences from a zero state, all T outputs (the peers' seq rows).</summary>
public class SequenceBenchmarks : NetworkBenchmarkBase
{
    public static IEnumerable<RnnRow> Rows() => Pick<RnnRow>(
    [
        new(CellType.Lstm, 512, 1, 100), new(CellType.Lstm, 512, 16, 100), new(CellType.Lstm, 512, 64, 100),
        new(CellType.Gru, 512, 16, 100), new(CellType.Rnn, 512, 16, 100),
    ]);

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    [Benchmark]
    public void Sequence() => Network.Forward(Input, Row.Steps, Row.Batch, Output, threads: Team);
}

/// <summary>
/// One training step (the peers' train rows): forward from a zero state recording what backward needs, then full
/// BPTT with loss = the sum of all outputs; gradients for the weights, biases and inputs. The weights are marked
/// changed each call, so their packed copies are rebuilt as they would be after an update.
/// </summary>
public class TrainingBenchmarks : NetworkBenchmarkBase
{
    private Training.TrainableRecurrentNetwork _trainable = null!;
    private Training.RecurrentTape _tape = null!;
    private float[] _ones = [], _gradInput = [];

    public static IEnumerable<RnnRow> Rows() => Pick<RnnRow>([new(CellType.Lstm, 256, 32, 50), new(CellType.Gru, 256, 32, 50)]);

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    /// <summary>Forward + backward: three times the forward FLOPs, as the harness counts them.</summary>
    public override double Flops => 3 * Row.Flops;

    protected override void AfterSetup()
    {
        _trainable = Training.TrainableRecurrentNetwork.FromPyTorch(Row.Options, Parameters);
        _tape = _trainable.CreateTape();
        _ones = new float[Row.Steps * Row.Batch * Row.Hidden];
        _ones.AsSpan().Fill(1f);
        _gradInput = new float[Row.Steps * Row.Batch * Row.Hidden];
    }

    [Benchmark]
    public void Train()
    {
        _trainable.Parameters.ZeroGradients();
        _trainable.Parameters.MarkChanged();
        _gradInput.AsSpan().Clear();
        _trainable.Forward(_tape, Input, Row.Steps, Row.Batch, Output, threads: Team);
        _trainable.Backward(_tape, _ones, gradInput: _gradInput, threads: Team);
    }

    protected override void BeforeCleanup() => _tape.Dispose();
}
