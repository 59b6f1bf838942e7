using System.Security.Cryptography;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Import;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// Networks at bf16 and int8 weights: a bf16 network is, bit for bit, the float32 network of the bf16-rounded
/// weights; an int8 network is within float rounding of the float32 network of q·s; both hash to pinned constants on
/// one and two threads under every CI ISA setting; no allocation per call; named errors.
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class ReducedPrecisionNetworkTests
{
    /// <summary>Change only with a deliberate change of the reduced arithmetic, and say so in the commit.</summary>
    private const string BFloat16Hash = "06417C6D3D939F79E74E65424D4B0827F6FEB6687044A406EBB60A75E8F8C888";

    /// <summary>As <see cref="BFloat16Hash"/>, for int8.</summary>
    private const string Int8Hash = "4A70DFB39CC70104E3BB8CF75152FBD0A6A3FDA47DCA63CFE78A5E237F412E39";

    /// <summary>Small (float panels of rounded values) and large enough for compact panels (LSTM H = 130: 520×260 floats).</summary>
    private static IEnumerable<RecurrentNetworkOptions> Architectures()
    {
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 20, hidden: 33))
        {
            yield return o;
        }

        yield return new() { Cell = CellType.Lstm, InputSize = 130, HiddenSize = 130 };
        yield return new() { Cell = CellType.Gru, InputSize = 140, HiddenSize = 170, Bidirectional = true };
        yield return new() { Cell = CellType.Rnn, InputSize = 300, HiddenSize = 290 };
    }

    private static bool IsMatrix(string name) => name.StartsWith("weight_ih", StringComparison.Ordinal)
        || name.StartsWith("weight_hh", StringComparison.Ordinal) || name.StartsWith("weight_hr", StringComparison.Ordinal);

    /// <summary>The parameters with each weight matrix replaced by what the precision holds: bf16(w), or q·s per row.</summary>
    private static Dictionary<string, float[]> Rounded(Dictionary<string, float[]> parameters, RecurrentNetworkOptions o, WeightPrecision precision)
    {
        var result = new Dictionary<string, float[]>();
        foreach ((string name, float[] values) in parameters)
        {
            if (!IsMatrix(name))
            {
                result[name] = values;
                continue;
            }

            // W_hr is [P, H]; W_ih and W_hh have G·H rows.
            int columns = name.StartsWith("weight_hr", StringComparison.Ordinal) ? o.HiddenSize : values.Length / (o.Gates * o.HiddenSize);
            float[] rounded = new float[values.Length];
            for (int row = 0; row < values.Length / columns; row++)
            {
                float max = 0f;
                for (int j = 0; j < columns; j++)
                {
                    max = Math.Max(max, Math.Abs(values[(row * columns) + j]));
                }

                for (int j = 0; j < columns; j++)
                {
                    float w = values[(row * columns) + j];
                    rounded[(row * columns) + j] = precision == WeightPrecision.BFloat16
                        ? ReducedWeights.RoundToBFloat16(w)
                        : MathF.Round(w / (max / 127f), MidpointRounding.ToEven) * (max / 127f);
                }
            }

            result[name] = rounded;
        }

        return result;
    }

    /// <summary>
    /// bf16 rounds only the weights, and the chains are float32's: the reduced network equals the float32 network of
    /// the rounded weights in every bit (whole sequences with lengths, batches 1, 2 and 5, and streamed steps).
    /// </summary>
    [Fact]
    public void BFloat16Network_IsTheFloat32NetworkOfTheRoundedWeights_BitForBit()
    {
        ulong seed = 0;
        foreach (RecurrentNetworkOptions o in Architectures())
        {
            Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, ++seed);
            RecurrentNetwork reduced = RecurrentNetwork.FromPyTorch(o, parameters).WithWeightPrecision(WeightPrecision.BFloat16);
            RecurrentNetwork reference = RecurrentNetwork.FromPyTorch(o, Rounded(parameters, o, WeightPrecision.BFloat16));
            foreach (int batch in new[] { 1, 2, 5 })
            {
                const int steps = 6;
                var random = new TestRandom(seed * 10 + (ulong)batch);
                float[] x = random.Array(steps * batch * o.InputSize, -2f, 2f);
                int[] lengths = [.. Enumerable.Range(0, batch).Select(b => steps - (b % 3))];
                float[] expected = new float[steps * batch * o.LayerOutputSize], actual = new float[expected.Length];
                reference.Forward(x, steps, batch, expected, lengths: lengths);
                reduced.Forward(x, steps, batch, actual, lengths: lengths);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"{o.Cell} H={o.HiddenSize} B={batch}: bf16 network differs from float32 over the rounded weights.");
            }
        }
    }

    /// <summary>Int8 differs from float32 over q·s only by where the scale is applied: within float rounding of it.</summary>
    [Fact]
    public void Int8Network_IsWithinRoundingOfTheFloat32NetworkOfTheDequantisedWeights()
    {
        ulong seed = 100;
        foreach (RecurrentNetworkOptions o in Architectures())
        {
            Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, ++seed);
            RecurrentNetwork reduced = RecurrentNetwork.FromPyTorch(o, parameters).WithWeightPrecision(WeightPrecision.Int8);
            RecurrentNetwork reference = RecurrentNetwork.FromPyTorch(o, Rounded(parameters, o, WeightPrecision.Int8));
            const int steps = 6, batch = 3;
            float[] x = new TestRandom(seed).Array(steps * batch * o.InputSize, -2f, 2f);
            float[] expected = new float[steps * batch * o.LayerOutputSize], actual = new float[expected.Length];
            reference.Forward(x, steps, batch, expected);
            reduced.Forward(x, steps, batch, actual);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5f * (1 + Math.Abs(expected[i])), $"{o.Cell} H={o.HiddenSize} [{i}]: {actual[i]} vs {expected[i]}");
            }
        }
    }

    [Fact]
    public void ReducedNetworks_HashToTheCommittedConstants_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach ((WeightPrecision precision, string pinned) in new[] { (WeightPrecision.BFloat16, BFloat16Hash), (WeightPrecision.Int8, Int8Hash) })
        {
            string single = Hash(precision, null), dual = Hash(precision, team);
            Assert.Equal(single, dual);
            Assert.True(pinned == single, $"{precision} hash {single}, expected {pinned}.");
        }
    }

    private static string Hash(WeightPrecision precision, ThreadTeam? team)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ulong seed = 200;
        foreach (RecurrentNetworkOptions o in Architectures())
        {
            RecurrentNetwork network = TestNetworks.Create(o, ++seed).WithWeightPrecision(precision);
            foreach (int batch in new[] { 1, 4 })
            {
                const int steps = 5;
                float[] x = new TestRandom(seed).Array(steps * batch * o.InputSize, -3f, 3f);
                float[] y = new float[steps * batch * o.LayerOutputSize];
                float[] hN = new float[o.Layers * o.Directions * batch * o.OutputSize];
                network.Forward(x, steps, batch, y, hN: hN, threads: team);
                BitHash.Append(hash, y);
                BitHash.Append(hash, hN);
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>As <see cref="BFloat16Hash"/>, for batches that run in lanes (B = 16, 32, 64), bf16 and int8.</summary>
    private const string LanesHash = "2AE57580DDA7E0B23E9332C13565814CA97B4D4D0629BC64B47E2EBF7F21A687";

    /// <summary>Lane-sized batches of every lanes cell (LSTM, GRU reset-after, Elman), small and compact.</summary>
    private static IEnumerable<RecurrentNetworkOptions> LaneArchitectures()
    {
        yield return new() { Cell = CellType.Lstm, InputSize = 20, HiddenSize = 33, Layers = 2 };
        yield return new() { Cell = CellType.Gru, InputSize = 20, HiddenSize = 33, Bidirectional = true };
        yield return new() { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, InputSize = 20, HiddenSize = 33 };
        yield return new() { Cell = CellType.Lstm, InputSize = 130, HiddenSize = 130 };
        yield return new() { Cell = CellType.Gru, InputSize = 140, HiddenSize = 170 };
        yield return new() { Cell = CellType.Rnn, InputSize = 300, HiddenSize = 290 };
    }

    /// <summary>
    /// Batches in lanes at reduced precision (B = 16, 32, 64, whole sequences) give the bits of the row-major path of the
    /// same network (forced by passing every length), on one and two threads, and hash to a pinned constant (so across
    /// ISAs too); bf16 is still the float32 network of the rounded weights.
    /// </summary>
    [Fact]
    public void ReducedNetworks_InLanes_GiveTheRowMajorBits()
    {
        using var team = new ThreadTeam(2);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ulong seed = 300;
        foreach (RecurrentNetworkOptions o in LaneArchitectures())
        {
            Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, ++seed);
            RecurrentNetwork roundedFloat32 = RecurrentNetwork.FromPyTorch(o, Rounded(parameters, o, WeightPrecision.BFloat16));
            foreach (WeightPrecision precision in new[] { WeightPrecision.BFloat16, WeightPrecision.Int8 })
            {
                RecurrentNetwork network = RecurrentNetwork.FromPyTorch(o, parameters).WithWeightPrecision(precision);
                foreach (int batch in new[] { 16, 32, 64 })
                {
                    const int steps = 4;
                    float[] x = new TestRandom(seed + (ulong)batch).Array(steps * batch * o.InputSize, -2f, 2f);
                    int[] all = [.. Enumerable.Repeat(steps, batch)];
                    float[] lanes = new float[steps * batch * o.LayerOutputSize], rows = new float[lanes.Length], dual = new float[lanes.Length];
                    float[] hLanes = new float[o.Layers * o.Directions * batch * o.OutputSize], hRows = new float[hLanes.Length];
                    network.Forward(x, steps, batch, lanes, hN: hLanes);
                    network.Forward(x, steps, batch, dual, threads: team);
                    network.Forward(x, steps, batch, rows, hN: hRows, lengths: all);
                    string where = $"{precision} {o.Cell} H={o.HiddenSize} B={batch}";
                    Assert.True(rows.AsSpan().SequenceEqual(lanes), $"{where}: lanes differ from rows.");
                    Assert.True(hRows.AsSpan().SequenceEqual(hLanes), $"{where}: lanes' h_n differs from rows'.");
                    Assert.True(lanes.AsSpan().SequenceEqual(dual), $"{where}: two threads differ from one.");
                    if (precision == WeightPrecision.BFloat16)
                    {
                        roundedFloat32.Forward(x, steps, batch, rows);
                        Assert.True(rows.AsSpan().SequenceEqual(lanes), $"{where}: differs from float32 over the rounded weights.");
                    }

                    BitHash.Append(hash, lanes);
                    BitHash.Append(hash, hLanes);
                }
            }
        }

        string actual = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(LanesHash == actual, $"lanes hash {actual}, expected {LanesHash}.");
    }

    [Theory]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void LaneBatches_AllocateNothing(WeightPrecision precision)
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 40, HiddenSize = 40 };
        RecurrentNetwork network = TestNetworks.Create(o).WithWeightPrecision(precision);
        float[] x = new TestRandom(8).Array(3 * 32 * o.InputSize), y = new float[3 * 32 * o.HiddenSize];
        using var team = new ThreadTeam(2);
        AllocationAssert.None(() => network.Forward(x, 3, 32, y, threads: team), team);
    }

    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void StepAndSequence_AllocateNothing(WeightPrecision precision)
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 160, HiddenSize = 160 };
        RecurrentNetwork network = TestNetworks.Create(o).WithWeightPrecision(precision);
        RecurrentState state = network.CreateState();
        float[] x = new TestRandom(9).Array(10 * 3 * o.InputSize), y = new float[10 * 3 * o.HiddenSize];
        using var team = new ThreadTeam(2);
        AllocationAssert.None(
            () =>
            {
                network.Step(state, x.AsSpan(0, o.InputSize), y.AsSpan(0, o.HiddenSize));
                network.Step(state, x.AsSpan(0, o.InputSize), y.AsSpan(0, o.HiddenSize), team);
                network.Forward(x, 10, 3, y, threads: team);
            },
            team);
    }

    [Fact]
    public void WithWeightPrecision_NamesItsErrors()
    {
        RecurrentNetwork network = TestNetworks.Create(new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 4, HiddenSize = 5 });
        Assert.Same(network, network.WithWeightPrecision(WeightPrecision.Float32));
        Assert.Equal("precision", Assert.Throws<ArgumentOutOfRangeException>(() => network.WithWeightPrecision((WeightPrecision)7)).ParamName);
        RecurrentNetwork bf16 = network.WithWeightPrecision(WeightPrecision.BFloat16);
        Assert.Equal(WeightPrecision.BFloat16, bf16.WeightPrecision);
        Assert.Equal(WeightPrecision.Float32, network.WeightPrecision);
        Assert.Same(bf16, bf16.WithWeightPrecision(WeightPrecision.BFloat16));
        var again = Assert.Throws<InvalidOperationException>(() => bf16.WithWeightPrecision(WeightPrecision.Int8));
        Assert.Contains("float32 original", again.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// BF16 and F16 files widen exactly and are rounded once: a BF16 file at BFloat16 is the network of its values, bit
    /// for bit; an F16 file at BFloat16 is the F32 file of the same (exactly widened) values at BFloat16.
    /// </summary>
    [Fact]
    public void BFloat16AndFloat16Files_LoadWithoutRoundingTwice()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 7, HiddenSize = 9 };
        Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, 31);
        SafeTensorsFile File(Func<float, float> convert, Action<SafeTensorsWriter, string, float[], long[]> add)
        {
            var writer = new SafeTensorsWriter();
            foreach ((string name, float[] values) in parameters)
            {
                long[] shape = name.StartsWith("weight_ih", StringComparison.Ordinal) ? [4 * 9, 7] : name.StartsWith("weight_hh", StringComparison.Ordinal) ? [4 * 9, 9] : [4 * 9];
                add(writer, name, [.. values.Select(convert)], shape);
            }

            var bytes = new MemoryStream();
            writer.WriteTo(bytes);
            return SafeTensorsFile.Load(bytes.ToArray());
        }

        float[] x = new TestRandom(2).Array(4 * o.InputSize, -2f, 2f);
        float[] Run(PyTorchModel model)
        {
            float[] y = new float[4 * o.HiddenSize];
            model.Network.Forward(x, 4, 1, y);
            return y;
        }

        var bf16 = new PyTorchImportOptions { WeightPrecision = WeightPrecision.BFloat16 };
        static float ToBf16(float v) => ReducedWeights.RoundToBFloat16(v);
        static float ToHalf(float v) => (float)(Half)v;
        using SafeTensorsFile bf16File = File(ToBf16, (w, n, v, s) => w.AddBFloat16(n, v, s));
        using SafeTensorsFile sameAsF32 = File(ToBf16, (w, n, v, s) => w.Add(n, v, s));
        Assert.Equal(Run(PyTorchImport.Load(sameAsF32)), Run(PyTorchImport.Load(bf16File, bf16)));
        Assert.Equal(Run(PyTorchImport.Load(sameAsF32)), Run(PyTorchImport.Load(bf16File)));

        using SafeTensorsFile halfFile = File(ToHalf, (w, n, v, s) => w.Add(n, [.. v.Select(f => (Half)f)], s));
        using SafeTensorsFile halfAsF32 = File(ToHalf, (w, n, v, s) => w.Add(n, v, s));
        Assert.Equal(Run(PyTorchImport.Load(halfAsF32, bf16)), Run(PyTorchImport.Load(halfFile, bf16)));
        Assert.Equal(WeightPrecision.BFloat16, PyTorchImport.Load(halfFile, bf16).Network.WeightPrecision);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => PyTorchImport.Load(halfFile, new PyTorchImportOptions { WeightPrecision = (WeightPrecision)9 })).ParamName);
    }

    /// <summary>
    /// Export at BFloat16 writes the recurrent matrices as BF16 (biases F32); importing that file gives the bf16 snapshot
    /// of the trained network bit for bit. Int8 has no state-dict form and is refused, naming the options.
    /// </summary>
    [Fact]
    public void BFloat16Export_ReimportsAsTheBFloat16Snapshot()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 6, HiddenSize = 11 };
        var trainable = Rnn.Simd.Training.TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 41));
        SafeTensorsWriter writer = PyTorchExport.ToWriter(trainable.Parameters, new PyTorchExportOptions { Cell = "gru", WeightPrecision = WeightPrecision.BFloat16 });
        var bytes = new MemoryStream();
        writer.WriteTo(bytes);
        using SafeTensorsFile file = SafeTensorsFile.Load(bytes.ToArray());
        Assert.Equal(SafeTensorsDType.BF16, file.Tensors.Single(t => t.Name == "weight_hh_l0").DType);
        Assert.Equal(SafeTensorsDType.F32, file.Tensors.Single(t => t.Name == "bias_hh_l0").DType);

        float[] x = new TestRandom(4).Array(5 * 2 * o.InputSize, -2f, 2f);
        float[] expected = new float[5 * 2 * o.HiddenSize], actual = new float[expected.Length];
        trainable.ToInferenceNetwork().WithWeightPrecision(WeightPrecision.BFloat16).Forward(x, 5, 2, expected);
        PyTorchImport.Load(file, new PyTorchImportOptions { WeightPrecision = WeightPrecision.BFloat16 }).Network.Forward(x, 5, 2, actual);
        Assert.Equal(expected, actual);

        var int8 = Assert.Throws<ArgumentException>(() => PyTorchExport.ToWriter(trainable.Parameters, new PyTorchExportOptions { WeightPrecision = WeightPrecision.Int8 }));
        Assert.Equal("options", int8.ParamName);
    }
}
