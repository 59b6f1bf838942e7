using BenchmarkDotNet.Attributes;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// The step rows at each weight precision (issue 21): the float32 network and its bf16 and int8 copies
/// (<see cref="RecurrentNetwork.WithWeightPrecision"/>) in one run, so the ratios are of one machine state. Bytes are
/// the weights a step streams at that precision (int8 with its two scales per gate row).
/// </summary>
public class StepPrecisionBenchmarks : NetworkBenchmarkBase
{
    private RecurrentState _state = null!;

    public static IEnumerable<RnnRow> Rows() =>
    [
        new(CellType.Lstm, 64, 1, 1), new(CellType.Lstm, 128, 1, 1), new(CellType.Lstm, 256, 1, 1), new(CellType.Lstm, 512, 1, 1),
        new(CellType.Lstm, 1024, 1, 1), new(CellType.Gru, 512, 1, 1), new(CellType.Gru, 1024, 1, 1), new(CellType.Rnn, 512, 1, 1),
        new(CellType.Rnn, 1024, 1, 1),
    ];

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    [Params(WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8)]
    public WeightPrecision Precision { get; set; }

    public override double Bytes => PrecisionBytes(Row, Precision);

    internal static double PrecisionBytes(RnnRow row, WeightPrecision precision)
    {
        double weights = (double)row.Options.Gates * row.Hidden * 2 * row.Hidden;
        return precision switch
        {
            WeightPrecision.BFloat16 => 2 * weights,
            WeightPrecision.Int8 => weights + (8.0 * row.Options.Gates * row.Hidden),
            _ => 4 * weights,
        };
    }

    protected override void AfterSetup()
    {
        Network = Network.WithWeightPrecision(Precision);
        _state = Network.CreateState();
    }

    [Benchmark]
    public void Step() => Network.Step(_state, Input, Output, Team);
}

/// <summary>Whole sequences at each weight precision: B = 1 (batch-1 passes) and B = 16 (tiles over widened panels).</summary>
public class SequencePrecisionBenchmarks : NetworkBenchmarkBase
{
    public static IEnumerable<RnnRow> Rows() => [new(CellType.Lstm, 512, 1, 100), new(CellType.Lstm, 512, 16, 100)];

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    [Params(WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8)]
    public WeightPrecision Precision { get; set; }

    public override double Bytes => Row.Batch == 1 ? StepPrecisionBenchmarks.PrecisionBytes(Row, Precision) * Row.Steps : 0;

    protected override void AfterSetup() => Network = Network.WithWeightPrecision(Precision);

    [Benchmark]
    public void Sequence() => Network.Forward(Input, Row.Steps, Row.Batch, Output, threads: Team);
}
