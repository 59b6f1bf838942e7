using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>Seeded networks with PyTorch-layout parameters, for tests that need no fixture.</summary>
internal static class TestNetworks
{
    public static IEnumerable<RecurrentNetworkOptions> Architectures(int input = 6, int hidden = 9, int layers = 2)
    {
        yield return new() { Cell = CellType.Rnn, InputSize = input, HiddenSize = hidden, Layers = layers };
        yield return new() { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, InputSize = input, HiddenSize = hidden, Layers = layers };
        yield return new() { Cell = CellType.Lstm, InputSize = input, HiddenSize = hidden, Layers = layers };
        yield return new() { Cell = CellType.Lstm, InputSize = input, HiddenSize = hidden, ProjectionSize = hidden - 4, Layers = layers };
        yield return new() { Cell = CellType.Gru, InputSize = input, HiddenSize = hidden, Layers = layers };
        yield return new() { Cell = CellType.Gru, GruVariant = GruVariant.ResetBefore, InputSize = input, HiddenSize = hidden, Layers = layers };
    }

    /// <summary>PyTorch's default initialisation shape: every parameter uniform in ±1/√H.</summary>
    public static Dictionary<string, float[]> PyTorchParameters(RecurrentNetworkOptions o, ulong seed, string prefix = "")
    {
        var random = new TestRandom(seed);
        float bound = 1f / MathF.Sqrt(o.HiddenSize);
        int g = o.Gates, h = o.HiddenSize;
        var parameters = new Dictionary<string, float[]>();
        for (int layer = 0; layer < o.Layers; layer++)
        {
            int input = layer == 0 ? o.InputSize : o.LayerOutputSize;
            for (int dir = 0; dir < o.Directions; dir++)
            {
                string suffix = $"l{layer}{(dir == 1 ? "_reverse" : "")}";
                parameters[$"{prefix}weight_ih_{suffix}"] = random.Array(g * h * input, -bound, bound);
                parameters[$"{prefix}weight_hh_{suffix}"] = random.Array(g * h * o.OutputSize, -bound, bound);
                parameters[$"{prefix}bias_ih_{suffix}"] = random.Array(g * h, -bound, bound);
                parameters[$"{prefix}bias_hh_{suffix}"] = random.Array(g * h, -bound, bound);
                if (o.ProjectionSize > 0)
                {
                    parameters[$"{prefix}weight_hr_{suffix}"] = random.Array(o.ProjectionSize * h, -bound, bound);
                }
            }
        }

        return parameters;
    }

    public static RecurrentNetwork Create(RecurrentNetworkOptions options, ulong seed = 1) =>
        RecurrentNetwork.FromPyTorch(options, PyTorchParameters(options, seed));
}
