using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Import;

/// <summary>What the importer infers from shapes and metadata, and how it refuses inconsistent files.</summary>
[Trait("Category", "Import")]
public sealed class PyTorchImportTests
{
    private static SafeTensorsFile File(RecurrentNetworkOptions o, string prefix = "", Action<SafeTensorsWriter, Dictionary<string, float[]>>? edit = null, bool skipStandard = false)
    {
        Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, 1, prefix);
        var writer = new SafeTensorsWriter();
        if (!skipStandard)
        {
            int g = o.Gates, h = o.HiddenSize;
            foreach ((string name, float[] data) in parameters)
            {
                string bare = name[prefix.Length..];
                int layer = bare[bare.IndexOf("_l", StringComparison.Ordinal) + 2] - '0';
                int input = layer == 0 ? o.InputSize : o.LayerOutputSize;
                long[] shape = bare.StartsWith("weight_ih", StringComparison.Ordinal) ? [g * h, input]
                    : bare.StartsWith("weight_hh", StringComparison.Ordinal) ? [g * h, o.OutputSize]
                    : bare.StartsWith("weight_hr", StringComparison.Ordinal) ? [o.ProjectionSize, h]
                    : [g * h];
                writer.Add(name, data, shape);
            }
        }

        edit?.Invoke(writer, parameters);
        var bytes = new MemoryStream();
        writer.WriteTo(bytes);
        return SafeTensorsFile.Load(bytes.ToArray());
    }

    [Fact]
    public void Shapes_GiveSizesLayersDirectionsAndProjection()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 8, ProjectionSize = 3, Layers = 3, Bidirectional = true };
        using SafeTensorsFile file = File(o, "encoder.lstm.");
        PyTorchModel model = PyTorchImport.Load(file, new PyTorchImportOptions { Prefix = "encoder.lstm." });
        Assert.Equal(o, model.Network.Options);
        Assert.False(model.BatchFirst);
    }

    [Fact]
    public void Metadata_GivesTheNonlinearityAndBatchFirst_OptionsWin()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = 4, HiddenSize = 6 };
        using SafeTensorsFile file = File(o, edit: (w, _) => w.SetMetadata("cell", "RNN_RELU").SetMetadata("batch_first", "True"));
        PyTorchModel fromMetadata = PyTorchImport.Load(file);
        Assert.Equal(Nonlinearity.Relu, fromMetadata.Network.Options.Nonlinearity);
        Assert.True(fromMetadata.BatchFirst);
        PyTorchModel fromOptions = PyTorchImport.Load(file, new PyTorchImportOptions { Cell = "rnn_tanh", BatchFirst = false });
        Assert.Equal(Nonlinearity.Tanh, fromOptions.Network.Options.Nonlinearity);
        Assert.False(fromOptions.BatchFirst);
    }

    public static TheoryData<string> BrokenFiles() => new() { "no-weights", "bad-gates", "bias-missing-half", "wrong-layer-shape", "integer-weights", "metadata-cell-mismatch", "bad-batch-first" };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void InconsistentFiles_AreInvalidData(string kind)
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 4, HiddenSize = 6, Layers = 2 };
        using SafeTensorsFile file = kind switch
        {
            "no-weights" => File(o, skipStandard: true, edit: (w, _) => w.Add("something", new float[3], 3)),
            "bad-gates" => File(o, skipStandard: true, edit: (w, _) => w.Add("weight_ih_l0", new float[10 * 4], 10, 4).Add("weight_hh_l0", new float[10 * 6], 10, 6)),
            "bias-missing-half" => File(o with { Layers = 1 }, skipStandard: true, edit: (w, p) => w.Add("weight_ih_l0", p["weight_ih_l0"], 18, 4).Add("weight_hh_l0", p["weight_hh_l0"], 18, 6).Add("bias_ih_l0", p["bias_ih_l0"], 18)),
            "wrong-layer-shape" => File(o with { Layers = 1 }, edit: (w, _) => w.Add("weight_ih_l1", new float[18 * 5], 18, 5).Add("weight_hh_l1", new float[18 * 6], 18, 6)),
            "integer-weights" => File(o with { Layers = 1 }, skipStandard: true, edit: (w, p) => w.Add("weight_ih_l0", new long[18 * 4], 18, 4).Add("weight_hh_l0", p["weight_hh_l0"], 18, 6)),
            "metadata-cell-mismatch" => File(o, edit: (w, _) => w.SetMetadata("cell", "lstm")),
            _ => File(o, edit: (w, _) => w.SetMetadata("batch_first", "maybe")),
        };
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => PyTorchImport.Load(file));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void AnUnknownOrMismatchedCellOption_IsAnArgumentError()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 4, HiddenSize = 6 };
        using SafeTensorsFile file = File(o);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => PyTorchImport.Load(file, new PyTorchImportOptions { Cell = "lstm" })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => PyTorchImport.Load(file, new PyTorchImportOptions { Cell = "transformer" })).ParamName);
    }
}
