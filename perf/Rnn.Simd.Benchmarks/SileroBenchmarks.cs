using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// One frame of Silero VAD (npm @ricky0123/vad-web@0.0.31's silero_vad_v5.onnx and silero_vad_legacy.onnx; fetch
/// them with tools/silero/fetch, or name their folder in RNN_SIMD_SILERO_DIR) at 16 kHz, batch 1, one thread:
/// <list type="bullet">
/// <item><see cref="OrtIoBinding"/>: ONNX Runtime's C# API the fastest way: OrtValues over pinned arrays bound once
/// (input, state or h/c, sr; output and the next state), IOBinding, RunWithBinding, RunOptions reused, intra-op
/// threads 1; the state ping-pongs between two bindings.</item>
/// <item><see cref="RnnSimd"/>: <see cref="OnnxModel.Run"/> on the same file, feeds and outputs made once, the state
/// ping-ponging the same way.</item>
/// </list>
/// v5 takes 576 samples (the frame's 512 after the previous frame's last 64), legacy the bare 512. Set-up runs both
/// once from a zero state and refuses to time them unless they agree within 1e-4.
/// <code>
///   tools/silero/fetch &amp;&amp; dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*SileroBenchmarks*' --short
/// </code>
/// </summary>
[MemoryDiagnoser]
public class SileroBenchmarks
{
    private readonly List<IDisposable> _disposables = [];
    private InferenceSession _session = null!;
    private RunOptions _runOptions = null!;
    private OrtIoBinding[] _bindings = [];
    private OnnxModel _model = null!;
    private OnnxFeed[][] _feeds = [];
    private Memory<float>[][] _outputs = [];
    private float[][] _ortOutputs = [], _ourOutputs = [];
    private int _ortTurn, _turn;

    [Params("v5", "legacy")]
    public string Model { get; set; } = "v5";

    [GlobalSetup]
    public void Setup()
    {
        string path = Path.Combine(Folder(), $"silero_vad_{Model}.onnx");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} is absent: run tools/silero/fetch (or set RNN_SIMD_SILERO_DIR).", path);
        }

        bool legacy = Model == "legacy";
        int samples = legacy ? 512 : 576;
        var input = new float[samples];
        var random = new Random(5);
        for (int i = 0; i < samples; i++)
        {
            input[i] = (float)((0.3 * Math.Sin(2 * Math.PI * 220 * i / 16000.0)) + (0.02 * (random.NextDouble() - 0.5)));
        }

        var sr = new long[] { 16000 };
        long[][] stateShapes = legacy ? [[2, 1, 64], [2, 1, 64]] : [[2, 1, 128]];
        int stateLength = legacy ? 128 : 256;

        // State set k: the states a call reads; it writes set 1 − k.
        float[][][] ortStates = [[.. stateShapes.Select(_ => new float[stateLength])], [.. stateShapes.Select(_ => new float[stateLength])]];
        float[][][] ourStates = [[.. stateShapes.Select(_ => new float[stateLength])], [.. stateShapes.Select(_ => new float[stateLength])]];
        _ortOutputs = [new float[1], new float[1]];
        _ourOutputs = [new float[1], new float[1]];

        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(path, options);
        _runOptions = new RunOptions();
        OrtValue Value<T>(T[] data, params long[] shape)
            where T : unmanaged
        {
            var v = OrtValue.CreateTensorValueFromMemory(data, shape);
            _disposables.Add(v);
            return v;
        }

        OrtValue x = Value(input, 1, samples), rate = Value(sr);
        _bindings = new OrtIoBinding[2];
        for (int k = 0; k < 2; k++)
        {
            OrtIoBinding binding = _session.CreateIoBinding();
            _disposables.Add(binding);
            _bindings[k] = binding;
            binding.BindInput("input", x);
            binding.BindInput("sr", rate);
            binding.BindOutput("output", Value(_ortOutputs[k], 1, 1));
            string[] stateIn = legacy ? ["h", "c"] : ["state"], stateOut = legacy ? ["hn", "cn"] : ["stateN"];
            for (int s = 0; s < stateIn.Length; s++)
            {
                binding.BindInput(stateIn[s], Value(ortStates[k][s], stateShapes[s]));
                binding.BindOutput(stateOut[s], Value(ortStates[1 - k][s], stateShapes[s]));
            }
        }

        _model = OnnxModel.Load(path);
        _feeds = new OnnxFeed[2][];
        _outputs = new Memory<float>[2][];
        for (int k = 0; k < 2; k++)
        {
            _feeds[k] = legacy
                ? [new OnnxFeed(input, 1, samples), new OnnxFeed(sr), new OnnxFeed(ourStates[k][0], 2, 1, 64), new OnnxFeed(ourStates[k][1], 2, 1, 64)]
                : [new OnnxFeed(input, 1, samples), new OnnxFeed(ourStates[k][0], 2, 1, 128), new OnnxFeed(sr)];
            _outputs[k] = legacy
                ? [_ourOutputs[k], ourStates[1 - k][0], ourStates[1 - k][1]]
                : [_ourOutputs[k], ourStates[1 - k][0]];
        }

        OrtIoBinding();
        RnnSimd();
        float ort = _ortOutputs[0][0], ours = _ourOutputs[0][0];
        if (Math.Abs(ort - ours) > 1e-4 || Enumerable.Range(0, stateShapes.Length).Any(s => ortStates[1][s].Zip(ourStates[1][s]).Any(p => Math.Abs(p.First - p.Second) > 1e-4 + (1e-4 * Math.Abs(p.First)))))
        {
            throw new InvalidOperationException($"Silero {Model}: ONNX Runtime gives {ort}, OnnxModel {ours}; not timed.");
        }

        foreach (float[][] set in ortStates.Concat(ourStates))
        {
            foreach (float[] s in set)
            {
                Array.Clear(s);
            }
        }

        _ortTurn = _turn = 0;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in Enumerable.Reverse(_disposables))
        {
            d.Dispose();
        }

        _disposables.Clear();
        _runOptions.Dispose();
        _session.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void OrtIoBinding()
    {
        _session.RunWithBinding(_runOptions, _bindings[_ortTurn]);
        _ortTurn = 1 - _ortTurn;
    }

    [Benchmark]
    public void RnnSimd()
    {
        _model.Run(_feeds[_turn], _outputs[_turn]);
        _turn = 1 - _turn;
    }

    private static string Folder()
    {
        string? named = Environment.GetEnvironmentVariable("RNN_SIMD_SILERO_DIR");
        if (!string.IsNullOrEmpty(named))
        {
            return named;
        }

        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (string? dir = start; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "Rnn.Simd.sln")))
                {
                    return Path.Combine(dir, "artifacts", "silero");
                }
            }
        }

        return Path.Combine("artifacts", "silero");
    }
}
