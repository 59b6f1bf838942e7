using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Rnn.Simd.Cells;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Benchmarks;

/// <summary>A step or seq row of ../shared/peers/configs.tsv as an ONNX model (X = H).</summary>
public readonly record struct OnnxRow(string Mode, RnnRow Shape)
{
    public override string ToString() => $"{Mode} {Shape}";
}

/// <summary>
/// The ONNX Runtime speed peer in-process. For each step and seq row of ../shared/peers/configs.tsv, one ONNX model
/// (the peers' form: W, R, B initializers in ONNX's gate orders; step rows take X, initial_h (and initial_c) and give
/// Y_h (and Y_c); seq rows take X from a zero state and give Y; GRU with linear_before_reset 1) is written from seeded
/// PyTorch-layout weights into a temporary .onnx file, and the same call is timed three ways:
/// <list type="bullet">
/// <item><see cref="OrtIoBinding"/>: ONNX Runtime's C# API the fastest way (as ../shared/peers/ort-csharp does):
/// OrtValues over pinned arrays bound once, IOBinding, RunWithBinding; intra-op threads = <see cref="Threads"/>;
/// for step rows the state ping-pongs between two bindings.</item>
/// <item><see cref="RnnSimdOnnx"/>: <see cref="OnnxRecurrentLayer.Run"/> on the same file.</item>
/// <item><see cref="RnnSimdNative"/>: <see cref="RecurrentNetwork.Forward"/> of a network made from the same PyTorch-layout
/// weights (states passed and returned as in the ONNX call).</item>
/// </list>
/// Set-up runs each once from the same state and refuses to time them unless the three agree.
/// <code>
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*OnnxBenchmarks*' --short
/// </code>
/// </summary>
public class OnnxBenchmarks : IThroughput
{
    private RecurrentNetwork _native = null!;
    private OnnxRecurrentLayer _layer = null!;
    private ThreadTeam? _team;
    private InferenceSession _session = null!;
    private RunOptions _runOptions = null!;
    private OrtIoBinding[] _bindings = [];
    private readonly List<IDisposable> _disposables = [];
    private string _modelPath = "";
    private float[] _x = [];
    private float[] _y = [], _ortY = [], _nativeY = [];

    // Step rows: state sets 0 and 1; a call reads set turn and writes set 1 - turn. One pair per path.
    private float[][] _h = [], _c = [], _ortH = [], _ortC = [], _nativeH = [], _nativeC = [];
    private int _turn, _ortTurn, _nativeTurn;

    /// <summary>Every row, or those named in RNN_BENCH_ROWS (e.g. "seq lstm H=512 B=1 T=100").</summary>
    public static IEnumerable<OnnxRow> Rows() => NetworkBenchmarkBase.Pick<OnnxRow>(
    [
        new("step", new(CellType.Lstm, 128, 1, 1)), new("step", new(CellType.Lstm, 256, 1, 1)), new("step", new(CellType.Lstm, 512, 1, 1)),
        new("step", new(CellType.Lstm, 1024, 1, 1)), new("step", new(CellType.Gru, 256, 1, 1)), new("step", new(CellType.Gru, 512, 1, 1)),
        new("step", new(CellType.Rnn, 256, 1, 1)), new("step", new(CellType.Rnn, 512, 1, 1)),
        new("seq", new(CellType.Lstm, 512, 1, 100)), new("seq", new(CellType.Lstm, 512, 16, 100)), new("seq", new(CellType.Lstm, 512, 64, 100)),
        new("seq", new(CellType.Gru, 512, 16, 100)), new("seq", new(CellType.Rnn, 512, 16, 100)),
    ]);

    [ParamsSource(nameof(Rows))]
    public OnnxRow Row { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts() => NetworkBenchmarkBase.ThreadCounts();

    public double Flops => Row.Shape.Flops;

    public double Bytes => Row.Shape.Batch == 1 ? 4.0 * Row.Shape.Options.Gates * Row.Shape.Hidden * 2 * Row.Shape.Hidden : 0;

    private bool IsStep => Row.Mode == "step";

    private bool IsLstm => Row.Shape.Cell == CellType.Lstm;

    [GlobalSetup]
    public void Setup()
    {
        RnnRow r = Row.Shape;
        RecurrentNetworkOptions o = r.Options;
        int h = r.Hidden, b = r.Batch, t = r.Steps, gh = o.Gates * h;
        var random = new Random(5);
        float bound = 1f / MathF.Sqrt(h);
        float[] Uniform(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * bound))];
        var torch = new Dictionary<string, float[]>
        {
            ["weight_ih_l0"] = Uniform(gh * o.InputSize), ["weight_hh_l0"] = Uniform(gh * h), ["bias_ih_l0"] = Uniform(gh), ["bias_hh_l0"] = Uniform(gh),
        };
        _x = Uniform(t * b * o.InputSize);
        _native = RecurrentNetwork.FromPyTorch(o, torch);
        _team = Threads > 1 ? new ThreadTeam(Threads) : null;

        string cell = r.Cell.ToString().ToLowerInvariant();
        string directory = Path.Combine(Path.GetTempPath(), "rnn-simd-bench-onnx");
        Directory.CreateDirectory(directory);
        _modelPath = Path.Combine(directory, $"{cell}_{Row.Mode}_X{o.InputSize}_H{h}_B{b}_T{t}_{Environment.ProcessId}.onnx");
        File.WriteAllBytes(_modelPath, PeerModel.Write(r, Row.Mode, torch));
        _layer = OnnxRecurrentLayer.Load(_modelPath);

        using var options = new SessionOptions
        {
            IntraOpNumThreads = Threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(_modelPath, options);
        _runOptions = new RunOptions();
        OrtValue Value(float[] data, params long[] shape)
        {
            var v = OrtValue.CreateTensorValueFromMemory(data, shape);
            _disposables.Add(v);
            return v;
        }

        OrtValue x = Value(_x, t, b, o.InputSize);
        float[][] Pair() => [new float[b * h], new float[b * h]];
        if (IsStep)
        {
            (_h, _ortH, _nativeH) = (Pair(), Pair(), Pair());
            (_c, _ortC, _nativeC) = IsLstm ? (Pair(), Pair(), Pair()) : ([[], []], [[], []], [[], []]);
            _y = new float[b * h];
            _nativeY = new float[b * h];
            OrtValue[] hv = [Value(_ortH[0], 1, b, h), Value(_ortH[1], 1, b, h)];
            OrtValue[] cv = IsLstm ? [Value(_ortC[0], 1, b, h), Value(_ortC[1], 1, b, h)] : [];
            _bindings = new OrtIoBinding[2];
            for (int k = 0; k < 2; k++)
            {
                OrtIoBinding binding = _session.CreateIoBinding();
                _disposables.Add(binding);
                binding.BindInput("X", x);
                binding.BindInput("initial_h", hv[k]);
                binding.BindOutput("Y_h", hv[1 - k]);
                if (IsLstm)
                {
                    binding.BindInput("initial_c", cv[k]);
                    binding.BindOutput("Y_c", cv[1 - k]);
                }

                _bindings[k] = binding;
            }
        }
        else
        {
            _y = new float[t * b * h];
            _ortY = new float[t * b * h];
            _nativeY = new float[t * b * h];
            OrtIoBinding binding = _session.CreateIoBinding();
            _disposables.Add(binding);
            binding.BindInput("X", x);
            binding.BindOutput("Y", Value(_ortY, t, 1, b, h));
            _bindings = [binding];
        }

        CheckAgreement();
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
        _team?.Dispose();
        File.Delete(_modelPath);
    }

    [Benchmark(Baseline = true)]
    public void OrtIoBinding()
    {
        _session.RunWithBinding(_runOptions, _bindings[_ortTurn]);
        _ortTurn = (_ortTurn + 1) % _bindings.Length;
    }

    [Benchmark]
    public void RnnSimdOnnx()
    {
        if (IsStep)
        {
            int from = _turn, to = 1 - _turn;
            _layer.Run(_x, 1, Row.Shape.Batch, default, _h[to], _c[to], _h[from], _c[from], threads: _team);
            _turn = to;
        }
        else
        {
            _layer.Run(_x, Row.Shape.Steps, Row.Shape.Batch, _y, threads: _team);
        }
    }

    [Benchmark]
    public void RnnSimdNative()
    {
        if (IsStep)
        {
            int from = _nativeTurn, to = 1 - _nativeTurn;
            _native.Forward(_x, 1, Row.Shape.Batch, _nativeY, _nativeH[from], _nativeC[from], _nativeH[to], _nativeC[to], threads: _team);
            _nativeTurn = to;
        }
        else
        {
            _native.Forward(_x, Row.Shape.Steps, Row.Shape.Batch, _nativeY, threads: _team);
        }
    }

    /// <summary>One call of each from a zero state: the ONNX path must give the native network's bits (the same
    /// weights, permuted to ONNX's gate orders and back), and ONNX Runtime the same values within 1e-4 + 1e-3·|x|.
    /// The states are zero again afterwards.</summary>
    private void CheckAgreement()
    {
        OrtIoBinding();
        RnnSimdOnnx();
        RnnSimdNative();
        var outputs = new List<(float[] Ort, float[] Onnx, float[] Native)>();
        if (IsStep)
        {
            outputs.Add((_ortH[1], _h[1], _nativeH[1]));
            if (IsLstm)
            {
                outputs.Add((_ortC[1], _c[1], _nativeC[1]));
            }
        }
        else
        {
            outputs.Add((_ortY, _y, _nativeY));
        }

        foreach ((float[] ort, float[] onnx, float[] native) in outputs)
        {
            if (!onnx.AsSpan().SequenceEqual(native))
            {
                throw new InvalidOperationException($"{Row}: OnnxRecurrentLayer.Run and RecurrentNetwork.Forward differ; not timing them.");
            }

            for (int i = 0; i < ort.Length; i++)
            {
                if (Math.Abs(ort[i] - onnx[i]) > 1e-4 + (1e-3 * Math.Abs(ort[i])))
                {
                    throw new InvalidOperationException($"{Row}: ONNX Runtime gives {ort[i]} at {i}, Rnn.Simd {onnx[i]}; not timing them.");
                }
            }
        }

        foreach (float[] state in _h.Concat(_c).Concat(_ortH).Concat(_ortC).Concat(_nativeH).Concat(_nativeC))
        {
            state.AsSpan().Clear();
        }

        (_turn, _ortTurn, _nativeTurn) = (0, 0, 0);
    }
}

/// <summary>The peers' ONNX model of a row (../shared/peers/models: opset 14, IR 8), written with
/// the library's <c>OnnxWriter</c> from PyTorch-layout weights.</summary>
internal static class PeerModel
{
    public static byte[] Write(RnnRow row, string mode, IReadOnlyDictionary<string, float[]> torch)
    {
        int h = row.Hidden, x = row.Options.InputSize, b = row.Batch, t = row.Steps, g = row.Options.Gates;
        // ONNX's gate block k is PyTorch's block order[k]: LSTM i, o, f, c from i, f, g, o; GRU z, r, h from r, z, n.
        int[] order = row.Cell switch { CellType.Lstm => [0, 3, 1, 2], CellType.Gru => [1, 0, 2], _ => [0] };
        float[] Permute(float[] source, int block)
        {
            var result = new float[source.Length];
            for (int k = 0; k < g; k++)
            {
                source.AsSpan(order[k] * block, block).CopyTo(result.AsSpan(k * block, block));
            }

            return result;
        }

        float[] bias = [.. Permute(torch["bias_ih_l0"], h), .. Permute(torch["bias_hh_l0"], h)];
        bool step = mode == "step", lstm = row.Cell == CellType.Lstm;
        var writer = new OnnxWriter()
            .Initializer("W", [1, g * h, x], Permute(torch["weight_ih_l0"], h * x))
            .Initializer("R", [1, g * h, h], Permute(torch["weight_hh_l0"], h * h))
            .Initializer("B", [1, 2 * g * h], bias)
            .Input("X", 1, t, b, x);
        List<string> nodeInputs = ["X", "W", "R", "B"];
        List<string> nodeOutputs;
        if (step)
        {
            nodeInputs.AddRange(["", "initial_h"]);
            writer.Input("initial_h", 1, 1, b, h).Output("Y_h", 1, 1, b, h);
            nodeOutputs = ["", "Y_h"];
            if (lstm)
            {
                nodeInputs.Add("initial_c");
                writer.Input("initial_c", 1, 1, b, h).Output("Y_c", 1, 1, b, h);
                nodeOutputs.Add("Y_c");
            }
        }
        else
        {
            nodeOutputs = ["Y"];
            writer.Output("Y", 1, t, 1, b, h);
        }

        var attributes = new List<(string, object)> { ("hidden_size", (long)h) };
        if (row.Cell == CellType.Gru)
        {
            attributes.Add(("linear_before_reset", 1L));
        }
        else if (row.Cell == CellType.Rnn)
        {
            attributes.Add(("activations", new[] { "Tanh" }));
        }

        string op = row.Cell switch { CellType.Lstm => "LSTM", CellType.Gru => "GRU", _ => "RNN" };
        return writer.Node(op, op.ToLowerInvariant(), [.. nodeInputs], [.. nodeOutputs], [.. attributes]).Build(14, $"{op.ToLowerInvariant()}_{mode}");
    }
}
