using BenchmarkDotNet.Attributes;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Benchmarks;

/// <summary>Whether a stream's values stay in float's normal range or sink into the subnormal range (|x| &lt; 2^−126).</summary>
public enum StateRange
{
    /// <summary>Inputs uniform in ±1: h (and c) are ordinary numbers.</summary>
    Normal,

    /// <summary>Inputs of about 1e−39: every gate pre-activation, h and c are subnormal, step after step.</summary>
    Subnormal,
}

/// <summary>
/// Issue 7, item 5: a streaming step (B = 1, H = X = 256) whose inputs and states are subnormal must not be more than
/// 1.5× slower than the same step on ordinary numbers (x86 and Arm can take microcode assists on subnormal operands, and
/// .NET has no portable way to set FTZ/DAZ). Same weights (±1/√H, zero biases) in both rows; only the input differs.
/// <code>dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*DenormalBenchmarks*' --job short</code>
/// </summary>
public class DenormalBenchmarks
{
    private const int Hidden = 256;
    private RecurrentNetwork _network = null!;
    private RecurrentState _state = null!;
    private float[] _input = [], _output = [];

    [Params(CellType.Lstm, CellType.Rnn)]
    public CellType Cell { get; set; }

    [Params(StateRange.Normal, StateRange.Subnormal)]
    public StateRange Range { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = new RecurrentNetworkOptions { Cell = Cell, InputSize = Hidden, HiddenSize = Hidden };
        var random = new Random(7);
        float bound = 1f / MathF.Sqrt(Hidden);
        float[] Uniform(int n, float scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale)];
        int gh = o.Gates * Hidden;
        _network = RecurrentNetwork.FromPyTorch(o, new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = Uniform(gh * Hidden, bound),
            ["weight_hh_l0"] = Uniform(gh * Hidden, bound),
        });
        _input = Uniform(Hidden, Range == StateRange.Normal ? 1f : 1e-39f);
        _output = new float[Hidden];
        _state = _network.CreateState();
        for (int i = 0; i < 100; i++)
        {
            Step();
        }

        // Checked before timing: the row really is in its range.
        int subnormal = _state.Hidden.ToArray().Count(v => v != 0 && float.IsSubnormal(v));
        if (Range == StateRange.Subnormal ? subnormal < Hidden / 2 : subnormal > 0)
        {
            throw new InvalidOperationException($"{Cell} {Range}: {subnormal} of {Hidden} h values are subnormal; not timing it.");
        }
    }

    [Benchmark]
    public void Step() => _network.Step(_state, _input, _output);
}
