using Rnn.Simd.Cells;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Orleans.Tests;

/// <summary>The network every silo loads (the same weights from the same seed) and the streams' seeded inputs.</summary>
internal static class TestModel
{
    public static readonly RecurrentNetworkOptions Options = new() { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 16, Layers = 2 };

    /// <summary>A fresh instance each call, as each silo loads its own copy of the model.</summary>
    public static RecurrentNetwork Load()
    {
        // PyTorch's layout and default initialisation shape: every parameter uniform in ±1/√H.
        var random = new Random(20261207);
        float bound = 1f / MathF.Sqrt(Options.HiddenSize);
        int rows = Options.Gates * Options.HiddenSize;
        var parameters = new Dictionary<string, float[]>();
        for (int layer = 0; layer < Options.Layers; layer++)
        {
            int input = layer == 0 ? Options.InputSize : Options.OutputSize;
            parameters[$"weight_ih_l{layer}"] = Uniform(random, rows * input, bound);
            parameters[$"weight_hh_l{layer}"] = Uniform(random, rows * Options.OutputSize, bound);
            parameters[$"bias_ih_l{layer}"] = Uniform(random, rows, bound);
            parameters[$"bias_hh_l{layer}"] = Uniform(random, rows, bound);
        }

        return RecurrentNetwork.FromPyTorch(Options, parameters);
    }

    /// <summary><paramref name="steps"/> inputs [X] of stream <paramref name="seed"/>.</summary>
    public static float[][] Inputs(int seed, int steps)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, steps).Select(_ => Uniform(random, Options.InputSize, 2f))];
    }

    /// <summary>The unmoved run: the inputs through <see cref="RecurrentNetwork.Step"/> on one state, in this process.</summary>
    public static float[][] DirectRun(float[][] inputs)
    {
        RecurrentNetwork network = Load();
        RecurrentState state = network.CreateState();
        return [.. inputs.Select(x =>
        {
            var y = new float[Options.OutputSize];
            network.Step(state, x, y);
            return y;
        })];
    }

    /// <summary>Bit for bit, naming the first step and element that differ.</summary>
    public static void AssertBits(float[][] expected, IReadOnlyList<float[]> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.Equal(expected[t].Length, actual[t].Length);
            for (int i = 0; i < expected[t].Length; i++)
            {
                int e = BitConverter.SingleToInt32Bits(expected[t][i]), a = BitConverter.SingleToInt32Bits(actual[t][i]);
                Assert.True(e == a, $"{what}: step {t}, element {i}: expected {expected[t][i]:R} (0x{e:X8}), got {actual[t][i]:R} (0x{a:X8}).");
            }
        }
    }

    private static float[] Uniform(Random random, int length, float bound)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = ((2f * random.NextSingle()) - 1f) * bound;
        }

        return values;
    }
}
