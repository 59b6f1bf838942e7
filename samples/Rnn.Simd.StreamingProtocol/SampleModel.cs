using System.Globalization;
using Rnn.Simd.Cells;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// The sample's model: a PyTorch <c>nn.LSTM</c> (or RNN, GRU) state dict saved as safetensors, or, without a file, a
/// seeded LSTM of the peers' shared step row (X = H = 256, one layer), the same bits on every machine, so a load
/// generator can rebuild the server's network and check every output.
/// </summary>
public static class SampleModel
{
    /// <summary>The seeded network's sizes and seed.</summary>
    public const int SeededInputSize = 256, SeededHiddenSize = 256, SeededSeed = 5;

    /// <summary>The network in <paramref name="path"/>, or the seeded one when it is null; and where it came from.</summary>
    /// <exception cref="InvalidDataException">The file is not a usable state dict (the message says why).</exception>
    public static (RecurrentNetwork Network, string Source) Load(string? path)
    {
        if (path is null)
        {
            return (Seeded(), string.Create(CultureInfo.InvariantCulture, $"seeded LSTM X={SeededInputSize} H={SeededHiddenSize} seed={SeededSeed}"));
        }

        PyTorchModel model = PyTorchImport.Load(path);
        RecurrentNetworkOptions o = model.Options;
        if (o.Bidirectional)
        {
            throw new InvalidDataException($"'{path}' holds a bidirectional network: a live stream needs a unidirectional one.");
        }

        return (model.Network, $"{Path.GetFileName(path)} ({o.Cell} X={o.InputSize} H={o.HiddenSize} layers={o.Layers})");
    }

    /// <summary>
    /// The seeded LSTM: PyTorch's initialisation (every weight and bias uniform in ±1/√H), drawn from a fixed
    /// sequence, so the same network on every machine and in every process.
    /// </summary>
    public static RecurrentNetwork Seeded()
    {
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = SeededInputSize, HiddenSize = SeededHiddenSize };
        var random = new SplitMix(SeededSeed);
        float bound = 1f / MathF.Sqrt(SeededHiddenSize);
        int rows = options.Gates * SeededHiddenSize;
        float[] Uniform(int n)
        {
            var values = new float[n];
            for (int i = 0; i < n; i++)
            {
                values[i] = random.NextSigned() * bound;
            }

            return values;
        }

        var parameters = new Dictionary<string, float[]>(StringComparer.Ordinal)
        {
            ["weight_ih_l0"] = Uniform(rows * SeededInputSize),
            ["weight_hh_l0"] = Uniform(rows * SeededHiddenSize),
            ["bias_ih_l0"] = Uniform(rows),
            ["bias_hh_l0"] = Uniform(rows),
        };
        return RecurrentNetwork.FromPyTorch(options, parameters);
    }
}
