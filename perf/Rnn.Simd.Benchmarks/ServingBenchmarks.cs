using BenchmarkDotNet.Attributes;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// Many live streams of one LSTM (H = X = 256, the peers' step row) advanced by one step each: one
/// <see cref="RecurrentNetwork.Step"/> per stream (the batch-1 path, weights streamed once per stream) against the
/// synchronous <see cref="StreamBatcher"/> (one batched step for all), the batch kept resident (the batched step with
/// no gather and scatter: what a state-resident layout could at best save), and the <see cref="AsyncStreamBatcher"/>
/// fed by one concurrent producer per stream. Every method is one step of every stream per operation, so the means
/// compare directly; stream-steps/s = streams / mean.
/// </summary>
public class ServingBenchmarks : NetworkBenchmarkBase
{
    private const int AsyncSteps = 8;

    private RecurrentState[] _alone = [];
    private StreamBatcher _batcher = null!;
    private StreamId[] _ids = [];
    private float[] _hBatch = [], _cBatch = [];
    private AsyncStreamBatcher _async = null!;
    private StreamId[] _asyncIds = [];

    /// <summary>The streams are the row's batch.</summary>
    public static IEnumerable<RnnRow> Rows() => [new(CellType.Lstm, 256, 64, 1), new(CellType.Lstm, 256, 256, 1)];

    [ParamsSource(nameof(Rows))]
    public override RnnRow Row { get; set; }

    [Benchmark(Baseline = true)]
    public void PerStreamStep()
    {
        int x = Row.Hidden, h = Row.Hidden;
        for (int i = 0; i < _alone.Length; i++)
        {
            Network.Step(_alone[i], Input.AsSpan(i * x, x), Output.AsSpan(i * h, h), Team);
        }
    }

    [Benchmark]
    public void SyncBatcher() => _batcher.Step(_ids, Input, Output, Team);

    [Benchmark]
    public void ResidentBatch() => Network.Forward(Input, 1, Row.Batch, Output, _hBatch, _cBatch, _hBatch, _cBatch, threads: Team);

    /// <summary>One producer per stream, each awaiting <see cref="AsyncSteps"/> steps in turn; per operation, one step of every stream.</summary>
    [Benchmark(OperationsPerInvoke = AsyncSteps)]
    public void AsyncBatcher()
    {
        var producers = new Task[_asyncIds.Length];
        for (int i = 0; i < producers.Length; i++)
        {
            producers[i] = Produce(i);
        }

        Task.WaitAll(producers);
    }

    protected override void AfterSetup()
    {
        int streams = Row.Batch, h = Row.Hidden;
        _alone = [.. Enumerable.Range(0, streams).Select(_ => Network.CreateState())];
        _batcher = new StreamBatcher(Network);
        _ids = [.. Enumerable.Range(0, streams).Select(_ => _batcher.Add())];
        _hBatch = new float[streams * h];
        _cBatch = new float[streams * h];
        _async = new AsyncStreamBatcher(Network, new AsyncStreamBatcherOptions { MaxBatch = streams, Threads = Team });
        _asyncIds = [.. Enumerable.Range(0, streams).Select(_ => _async.Add())];

        // Checked before timing: three steps of the batcher give every stream the bits of its own Step.
        var expected = new float[Output.Length];
        for (int t = 0; t < 3; t++)
        {
            PerStreamStep();
            Output.CopyTo(expected, 0);
            SyncBatcher();
            if (!expected.AsSpan().SequenceEqual(Output))
            {
                throw new InvalidOperationException($"The stream batcher's step {t} differs from per-stream Step; not timing it.");
            }
        }
    }

    protected override void BeforeCleanup() => _async.Dispose();

    private async Task Produce(int i)
    {
        int x = Row.Hidden, h = Row.Hidden;
        for (int t = 0; t < AsyncSteps; t++)
        {
            await _async.StepAsync(_asyncIds[i], Input.AsMemory(i * x, x), Output.AsMemory(i * h, h));
        }
    }
}
