using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// Small stand-ins for Silero VAD's ONNX files, with its inputs and outputs and operators OnnxModel runs today, so the
/// detector's framing, state carrying, streams and allocations are tested without the real model; and the same
/// arithmetic in double-precision plain loops as the reference.
/// <code>
/// v5/v6:  s = flatten(state) [1, 256]     p = σ(x·wx + s·ws)     state' = tanh(x·U + s ⊙ d)      x = input [1, C + N]
/// legacy: h, c flattened [1, 128] each    p = σ(x·wx + h·wh + c·wc)   h' = tanh(x·Uh + h ⊙ dh)   c' = tanh(x·Uc + c ⊙ dc)
/// </code>
/// The output depends on every input sample (the context included) and on the whole history through the state.
/// </summary>
internal sealed class FakeSilero
{
    private readonly Dictionary<string, float[]> _weights = [];

    private FakeSilero(bool legacy, int windowLength, int seed, string[] inputOrder, bool outputsReversed = false)
    {
        Legacy = legacy;
        WindowLength = windowLength;
        var random = new Random(seed);
        float[] Weights(string name, int count, double scale)
        {
            float[] w = [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
            _weights[name] = w;
            return w;
        }

        var writer = new OnnxWriter();
        int x = windowLength;
        double inputScale = 2.0 / Math.Sqrt(x);
        if (!legacy)
        {
            writer.Initializer("wx", [x, 1], Weights("wx", x, inputScale))
                .Initializer("ws", [256, 1], Weights("ws", 256, 0.2))
                .Initializer("U", [x, 256], Weights("U", x * 256, inputScale))
                .Initializer("d", [1, 256], Weights("d", 256, 0.9));
            foreach (string name in inputOrder)
            {
                _ = name switch
                {
                    "input" => writer.Input("input", 1, 1, x),
                    "state" => writer.Input("state", 1, 2, -1, 128),
                    _ => writer.Input("sr", 7),
                };
            }

            _ = outputsReversed ? writer.Output("stateN", 1, null).Output("output", 1, -1, 1) : writer.Output("output", 1, -1, 1).Output("stateN", 1, null);
            writer.Node("Flatten", "flat", ["state"], ["s"], ("axis", 0L))
                .Node("MatMul", "mx", ["input", "wx"], ["a"])
                .Node("MatMul", "ms", ["s", "ws"], ["b"])
                .Node("Add", "ab", ["a", "b"], ["logit"])
                .Node("Sigmoid", "p", ["logit"], ["output"])
                .Node("MatMul", "mu", ["input", "U"], ["u"])
                .Node("Mul", "decay", ["s", "d"], ["m"])
                .Node("Add", "um", ["u", "m"], ["z"])
                .Node("Tanh", "next", ["z"], ["stateN"]);
        }
        else
        {
            writer.Initializer("wx", [x, 1], Weights("wx", x, inputScale))
                .Initializer("wh", [128, 1], Weights("wh", 128, 0.3))
                .Initializer("wc", [128, 1], Weights("wc", 128, 0.3))
                .Initializer("Uh", [x, 128], Weights("Uh", x * 128, inputScale))
                .Initializer("Uc", [x, 128], Weights("Uc", x * 128, inputScale))
                .Initializer("dh", [1, 128], Weights("dh", 128, 0.9))
                .Initializer("dc", [1, 128], Weights("dc", 128, 0.9))
                .Input("input", 1, 1, x).Input("sr", 7).Input("h", 1, 2, -1, 64).Input("c", 1, 2, -1, 64)
                .Output("output", 1, -1, 1).Output("hn", 1, null).Output("cn", 1, null)
                .Node("Flatten", "fh", ["h"], ["hf"], ("axis", 0L))
                .Node("Flatten", "fc", ["c"], ["cf"], ("axis", 0L))
                .Node("MatMul", "mx", ["input", "wx"], ["a"])
                .Node("MatMul", "mh", ["hf", "wh"], ["b"])
                .Node("MatMul", "mc", ["cf", "wc"], ["e"])
                .Node("Add", "ab", ["a", "b"], ["ab"])
                .Node("Add", "abe", ["ab", "e"], ["logit"])
                .Node("Sigmoid", "p", ["logit"], ["output"])
                .Node("MatMul", "muh", ["input", "Uh"], ["uh"])
                .Node("Mul", "dech", ["hf", "dh"], ["mh"])
                .Node("Add", "zh", ["uh", "mh"], ["zh"])
                .Node("Tanh", "nh", ["zh"], ["hn"])
                .Node("MatMul", "muc", ["input", "Uc"], ["uc"])
                .Node("Mul", "decc", ["cf", "dc"], ["mc"])
                .Node("Add", "zc", ["uc", "mc"], ["zc"])
                .Node("Tanh", "nc", ["zc"], ["cn"]);
        }

        Model = OnnxModel.Load(writer.Build(16), legacy ? "fake_silero_legacy.onnx" : "fake_silero_v5.onnx");
    }

    public OnnxModel Model { get; }

    public bool Legacy { get; }

    /// <summary>Samples the model takes per call: C + N (v5/v6) or N (legacy).</summary>
    public int WindowLength { get; }

    /// <summary>A v5/v6 stand-in at <paramref name="sampleRate"/> (window 576 or 288), inputs declared in <paramref name="inputOrder"/>.</summary>
    public static FakeSilero Current(int sampleRate, int seed = 1, params string[] inputOrder) =>
        new(false, sampleRate == 16000 ? 576 : 288, seed, inputOrder.Length == 0 ? ["input", "state", "sr"] : inputOrder);

    /// <summary>A v5/v6 stand-in at 16 kHz whose graph lists stateN before output.</summary>
    public static FakeSilero WithOutputsReversed(int seed) => new(false, 576, seed, ["input", "state", "sr"], outputsReversed: true);

    /// <summary>A legacy stand-in at <paramref name="sampleRate"/> (window 512 or 256).</summary>
    public static FakeSilero OfLegacy(int sampleRate, int seed = 1) => new(true, sampleRate == 16000 ? 512 : 256, seed, []);

    /// <summary>
    /// The reference: frame k of the signal is samples [kN, kN + N) (zeros past the end); the model sees samples
    /// [kN − C, kN + N) (zeros before the start) with C = window − N, and the state of frame k − 1. Double precision.
    /// </summary>
    public double[] Reference(ReadOnlySpan<float> signal, int frameSamples)
    {
        int frames = (signal.Length + frameSamples - 1) / frameSamples, context = WindowLength - frameSamples;
        var probabilities = new double[frames];
        int stateSize = Legacy ? 128 : 256;
        double[] s = new double[stateSize], c = new double[stateSize];
        var window = new double[WindowLength];
        for (int k = 0; k < frames; k++)
        {
            for (int j = 0; j < WindowLength; j++)
            {
                int at = (k * frameSamples) - context + j;
                window[j] = at >= 0 && at < signal.Length ? signal[at] : 0;
            }

            double logit = Dot(window, _weights["wx"]) + Dot(s, Legacy ? _weights["wh"] : _weights["ws"]) + (Legacy ? Dot(c, _weights["wc"]) : 0);
            probabilities[k] = 1 / (1 + Math.Exp(-logit));
            s = Next(window, s, Legacy ? "Uh" : "U", Legacy ? "dh" : "d");
            if (Legacy)
            {
                c = Next(window, c, "Uc", "dc");
            }
        }

        return probabilities;
    }

    private double[] Next(double[] window, double[] state, string u, string d)
    {
        float[] weights = _weights[u], decay = _weights[d];
        var next = new double[state.Length];
        for (int i = 0; i < next.Length; i++)
        {
            double z = state[i] * decay[i];
            for (int j = 0; j < window.Length; j++)
            {
                z += window[j] * weights[(j * next.Length) + i];
            }

            next[i] = Math.Tanh(z);
        }

        return next;
    }

    private static double Dot(double[] a, float[] w)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * w[i];
        }

        return sum;
    }

    /// <summary>A deterministic test signal in [−1, 1]: two tones and noise.</summary>
    public static float[] Signal(int samples, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, samples).Select(i => (float)((0.5 * Math.Sin(i * 0.07)) + (0.2 * Math.Sin(i * 0.31)) + (0.3 * ((random.NextDouble() * 2) - 1))))];
    }
}
