using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// Silero VAD's three ONNX files (v5, v6, legacy; <see cref="SileroFiles"/>) run frame by frame over a deterministic
/// signal (sines, chirps and noise from a seeded generator, loud, quiet and silent stretches) at 16 kHz and 8 kHz,
/// the state carried from call to call as Silero's own wrapper does (v5/v6: each frame preceded by the previous
/// frame's last 64 or 32 samples; legacy: the bare frame, h and c): every output and state of every frame against
/// ONNX Runtime in the same process, run from the same state, within 1e-5, batches too; no allocation per call; one pinned hash of all
/// outputs under every instruction set and on two threads.
/// </summary>
[Trait("Category", "Import")]
public sealed class SileroModelTests(ITestOutputHelper output)
{
    private const int Frames = 240;

    /// <summary>SHA-256 of every output and state of every frame of <see cref="HashAll"/>. Change only with a
    /// deliberate change of the arithmetic, and say so in the commit.</summary>
    private const string OutputsHash = "0A1D6492698F711B3D33507A56BA5E20E129A71545899E9007C11DBE5645B3A2";

    public static TheoryData<string, int> Cases() => new()
    {
        { SileroFiles.V5, 16000 }, { SileroFiles.V5, 8000 },
        { SileroFiles.V6, 16000 }, { SileroFiles.V6, 8000 },
        { SileroFiles.Legacy, 16000 }, { SileroFiles.Legacy, 8000 },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void FrameByFrame_MatchesOnnxRuntime(string file, int rate)
    {
        string path = SileroFiles.Path(file);
        var ours = new Stream(OnnxModel.Load(path), rate, batch: 1);
        using var theirs = new OrtStream(path, ours);
        float[] signal = Signal(rate, Frames * ours.Frame, seed: 1);
        var worst = new double[ours.Outputs.Length];
        var worstRelative = new double[ours.Outputs.Length];
        float low = 1, high = 0;
        for (int f = 0; f < Frames; f++)
        {
            ReadOnlySpan<float> frame = signal.AsSpan(f * ours.Frame, ours.Frame);
            theirs.Step(frame);
            ours.Step(frame);
            for (int k = 0; k < ours.Outputs.Length; k++)
            {
                Assert.Equal(theirs.Outputs[k].Length, ours.Outputs[k].Length);
                for (int i = 0; i < ours.Outputs[k].Length; i++)
                {
                    double error = Math.Abs(ours.Outputs[k][i] - theirs.Outputs[k][i]);
                    worst[k] = Math.Max(worst[k], error);
                    worstRelative[k] = Math.Max(worstRelative[k], error / Math.Max(1, Math.Abs(theirs.Outputs[k][i])));
                    Assert.True(error <= Tolerance(k, theirs.Outputs[k][i]), $"{file} at {rate} Hz, frame {f}, {ours.Model.OutputNames[k]}[{i}]: ONNX Runtime {theirs.Outputs[k][i]}, ours {ours.Outputs[k][i]}.");
                }
            }

            low = Math.Min(low, ours.Outputs[0][0]);
            high = Math.Max(high, ours.Outputs[0][0]);
        }

        output.WriteLine($"{file} {rate} Hz: {Frames} frames, probabilities {low:F4}…{high:F4}, largest difference from ONNX Runtime {string.Join(", ", worst.Select((w, k) => $"{ours.Model.OutputNames[k]} {w:E2} (relative {worstRelative[k]:E2})"))}");

        // The signal must exercise the model: speech-like and silent stretches give different probabilities.
        Assert.True(high - low > 0.05, $"The probabilities stay within [{low}, {high}]: the test signal does not exercise the model.");
    }

    [SkippableTheory]
    [InlineData(SileroFiles.V5)]
    [InlineData(SileroFiles.Legacy)]
    public void Batches_MatchOnnxRuntime(string file)
    {
        string path = SileroFiles.Path(file);
        var ours = new Stream(OnnxModel.Load(path), 16000, batch: 3);
        using var theirs = new OrtStream(path, ours);
        float[] signal = Signal(16000, 40 * ours.Frame * 3, seed: 7);
        for (int f = 0; f < 40; f++)
        {
            ReadOnlySpan<float> frames = signal.AsSpan(f * ours.Frame * 3, ours.Frame * 3);
            theirs.Step(frames);
            ours.Step(frames);
            for (int k = 0; k < ours.Outputs.Length; k++)
            {
                for (int i = 0; i < ours.Outputs[k].Length; i++)
                {
                    Assert.True(Math.Abs(ours.Outputs[k][i] - theirs.Outputs[k][i]) <= Tolerance(k, theirs.Outputs[k][i]), $"{file} batch 3, frame {f}, {ours.Model.OutputNames[k]}[{i}]: ONNX Runtime {theirs.Outputs[k][i]}, ours {ours.Outputs[k][i]}.");
                }
            }
        }
    }

    [SkippableTheory]
    [InlineData(SileroFiles.V5, 16000)]
    [InlineData(SileroFiles.V5, 8000)]
    [InlineData(SileroFiles.Legacy, 16000)]
    public void ACall_AllocatesNothing_AfterTheFirst(string file, int rate)
    {
        var ours = new Stream(OnnxModel.Load(SileroFiles.Path(file)), rate, batch: 1);
        float[] frame = Signal(rate, ours.Frame, seed: 3);
        AllocationAssert.None(() => ours.Step(frame));
    }

    [SkippableFact]
    [Trait("Isa", "All")]
    public void Outputs_HashToTheCommittedConstant_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        string single = HashAll(null), dual = HashAll(team);
        output.WriteLine(single);
        Assert.Equal(single, dual);
        Assert.True(OutputsHash == single, $"Silero outputs hash {single}, expected {OutputsHash}.");
    }

    [SkippableFact]
    public void AnIfOnTheCallsData_IsRefusedByName()
    {
        // Silero's sr picks a branch when the plan is made; a float input cannot.
        OnnxWriter.Graph sub = new OnnxWriter().Node("Identity", "keep", ["x"], ["y_then"]).Output("y_then", 1, null).Subgraph("then");
        OnnxWriter.Graph other = new OnnxWriter().Node("Neg", "flip", ["x"], ["y_else"]).Output("y_else", 1, null).Subgraph("else");
        byte[] bytes = new OnnxWriter()
            .Input("x", 1, 1, 2).Input("flag", 7, 1).Output("y", 1, 1, 2)
            .Node("If", "branch", ["flag"], ["y"], ("then_branch", sub), ("else_branch", other))
            .Build(16);
        OnnxModel model = OnnxModel.Load(bytes, "if.onnx");
        var e = Assert.Throws<InvalidDataException>(() => model.Run([new OnnxFeed(new float[] { 1, 2 }, 1, 2), new OnnxFeed(new long[] { 1 }, 1)], [new float[2]]));
        Assert.Contains("If node 'branch' has a condition computed from the call's data", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The probability (output 0) within 1e-5; the states within 1e-5 + 1e-5·|x|: the LSTM's cell state
    /// grows to tens, where ONNX Runtime's and our summation orders differ by a few units of 1e-6 relative (measured
    /// at most 1.5e-5 absolute at |x| ≈ 1.6 and 3.1e-5 at |x| ≈ 13; the probabilities at most 1.2e-6).</summary>
    private static double Tolerance(int output, float expected) => output == 0 ? 1e-5 : 1e-5 + (1e-5 * Math.Abs(expected));

    private string HashAll(ThreadTeam? team)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string file in new[] { SileroFiles.V5, SileroFiles.V6, SileroFiles.Legacy })
        {
            OnnxModel model = OnnxModel.Load(SileroFiles.Path(file));
            foreach (int rate in new[] { 16000, 8000 })
            {
                var ours = new Stream(model, rate, batch: 1, team);
                float[] signal = Signal(rate, 60 * ours.Frame, seed: 11);
                for (int f = 0; f < 60; f++)
                {
                    ours.Step(signal.AsSpan(f * ours.Frame, ours.Frame));
                    foreach (float[] o in ours.Outputs)
                    {
                        BitHash.Append(hash, o);
                    }
                }
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>A test signal at <paramref name="rate"/>: stretches of about a quarter second, each silent, quiet
    /// or loud, of voiced-like harmonics with a wandering pitch, chirps, and noise.</summary>
    internal static float[] Signal(int rate, int length, ulong seed)
    {
        var random = new TestRandom(seed);
        var x = new float[length];
        int stretch = rate / 4;
        double phase = 0, chirpPhase = 0;
        for (int start = 0; start < length; start += stretch)
        {
            int kind = random.Next(4);
            float gain = kind switch { 0 => 0f, 1 => 0.01f, _ => random.Uniform(0.2f, 0.8f) };
            double pitch = random.Uniform(90, 250), glide = random.Uniform(-200, 200), chirpFrom = random.Uniform(200, rate / 3f), noise = random.Uniform(0.001f, 0.05f);
            for (int i = start; i < Math.Min(length, start + stretch); i++)
            {
                double t = (double)(i - start) / rate;
                double f0 = pitch + (30 * Math.Sin(2 * Math.PI * 3 * t));
                phase += 2 * Math.PI * f0 / rate;
                chirpPhase += 2 * Math.PI * (chirpFrom + (glide * t * 4)) / rate;
                double voiced = 0;
                for (int h = 1; h <= 8; h++)
                {
                    voiced += Math.Sin(h * phase) / h;
                }

                double v = kind == 3 ? 0.5 * Math.Sin(chirpPhase) : voiced;
                x[i] = (float)((gain * v * 0.5) + (noise * (random.NextFloat() - 0.5)));
            }
        }

        return x;
    }

    /// <summary>One stream of frames through our model: the wrapper's framing and carried state.</summary>
    internal sealed class Stream
    {
        private readonly OnnxFeed[] _feeds;
        private readonly Memory<float>[] _outputs;
        private readonly float[] _input, _state, _h, _c;
        private readonly ThreadTeam? _team;

        public Stream(OnnxModel model, int rate, int batch, ThreadTeam? team = null)
        {
            Model = model;
            Batch = batch;
            Rate = rate;
            _team = team;
            Legacy = model.InputNames.Count == 4;
            Frame = rate == 16000 ? 512 : 256;
            Context = Legacy ? 0 : rate / 250;
            _input = new float[batch * (Context + Frame)];
            _state = new float[Legacy ? 0 : 2 * batch * 128];
            _h = new float[Legacy ? 2 * batch * 64 : 0];
            _c = new float[_h.Length];
            var sr = new long[] { rate };
            _feeds = Legacy
                ? [new OnnxFeed(_input, batch, Frame), new OnnxFeed(sr), new OnnxFeed(_h, 2, batch, 64), new OnnxFeed(_c, 2, batch, 64)]
                : [new OnnxFeed(_input, batch, Context + Frame), new OnnxFeed(_state, 2, batch, 128), new OnnxFeed(sr)];
            Outputs = [.. Enumerable.Range(0, model.OutputNames.Count).Select(k => new float[(int)model.OutputShape(k, _feeds).Aggregate(1L, (p, d) => p * d)])];
            _outputs = [.. Outputs.Select(o => new Memory<float>(o))];
        }

        public OnnxModel Model { get; }

        public int Batch { get; }

        public int Rate { get; }

        public bool Legacy { get; }

        public int Frame { get; }

        public int Context { get; }

        /// <summary>The last call's outputs, in the model's order (probability [B, 1], then the state(s)).</summary>
        public float[][] Outputs { get; }

        /// <summary>The state fed to the call (v5/v6: state; legacy: h then c).</summary>
        public float[][] States => Legacy ? [_h, _c] : [_state];

        /// <summary>Runs one frame per stream (<paramref name="frames"/>: B frames one after the other), then carries
        /// the state and the context.</summary>
        public void Step(ReadOnlySpan<float> frames)
        {
            int width = Context + Frame;
            for (int b = 0; b < Batch; b++)
            {
                frames.Slice(b * Frame, Frame).CopyTo(_input.AsSpan((b * width) + Context, Frame));
            }

            Model.Run(_feeds, _outputs, _team);
            for (int b = 0; b < Batch; b++)
            {
                // The next frame's context: this one's last samples.
                _input.AsSpan((b * width) + Frame, Context).CopyTo(_input.AsSpan(b * width, Context));
            }

            if (Legacy)
            {
                Outputs[1].CopyTo(_h, 0);
                Outputs[2].CopyTo(_c, 0);
            }
            else
            {
                Outputs[1].CopyTo(_state, 0);
            }
        }
    }

    /// <summary>The same stream through ONNX Runtime (one thread): it is fed the same input as ours and carries
    /// its own state.</summary>
    private sealed class OrtStream : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly Stream _ours;
        private readonly string[] _outputNames;
        private readonly float[] _context;

        public OrtStream(string path, Stream ours)
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
            _session = new InferenceSession(path, options);
            _ours = ours;
            _outputNames = [.. ours.Model.OutputNames];
            Outputs = [.. ours.Outputs.Select(o => new float[o.Length])];
            _context = new float[ours.Batch * ours.Context];
        }

        public float[][] Outputs { get; }

        /// <summary>Runs the same frames with its own context, from the state our stream holds now (so each frame is
        /// compared from the same start; carried apart, float rounding in the LSTM's cell state, which grows to tens,
        /// would drift by ulps).</summary>
        public void Step(ReadOnlySpan<float> frames)
        {
            float[][] states = _ours.States;
            int width = _ours.Context + _ours.Frame;
            var input = new float[_ours.Batch * width];
            for (int b = 0; b < _ours.Batch; b++)
            {
                _context.AsSpan(b * _ours.Context, _ours.Context).CopyTo(input.AsSpan(b * width));
                frames.Slice(b * _ours.Frame, _ours.Frame).CopyTo(input.AsSpan((b * width) + _ours.Context));
                input.AsSpan((b * width) + _ours.Frame, _ours.Context).CopyTo(_context.AsSpan(b * _ours.Context));
            }

            var feeds = new List<OrtValue>();
            try
            {
                feeds.Add(OrtValue.CreateTensorValueFromMemory(input, [_ours.Batch, width]));
                if (_ours.Legacy)
                {
                    feeds.Add(OrtValue.CreateTensorValueFromMemory(new long[] { _ours.Rate }, []));
                    feeds.Add(OrtValue.CreateTensorValueFromMemory(states[0], [2, _ours.Batch, 64]));
                    feeds.Add(OrtValue.CreateTensorValueFromMemory(states[1], [2, _ours.Batch, 64]));
                }
                else
                {
                    feeds.Add(OrtValue.CreateTensorValueFromMemory(states[0], [2, _ours.Batch, 128]));
                    feeds.Add(OrtValue.CreateTensorValueFromMemory(new long[] { _ours.Rate }, []));
                }

                using var run = new RunOptions();
                using IDisposableReadOnlyCollection<OrtValue> results = _session.Run(run, _ours.Model.InputNames, feeds, _outputNames);
                int k = 0;
                foreach (OrtValue value in results)
                {
                    value.GetTensorDataAsSpan<float>().CopyTo(Outputs[k++]);
                }
            }
            finally
            {
                foreach (OrtValue v in feeds)
                {
                    v.Dispose();
                }
            }

        }

        public void Dispose() => _session.Dispose();
    }
}
