using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Compatibility;

/// <summary>
/// Checkpoints written by release 0.1.0's <c>rnn-simd train</c> (checkpoints-0.1.0/README.md says how) still load
/// with today's code, rebuild the same model, and a run resumed from the one at update 6 ends at update 12 on exactly
/// the bits 0.1.0 wrote there: every tensor (weights, Adam's moments, the carried state) byte for byte.
/// </summary>
[Trait("Category", "Compatibility")]
[Collection(NonParallelCollection.Name)]   // the tool writes to Console
public sealed class CheckpointCompatibilityTests
{
    private static string Fixture(string run, string file) =>
        Path.Combine(AppContext.BaseDirectory, "Compatibility", "checkpoints-0.1.0", run, file);

    [Theory]
    [InlineData("text", CellType.Lstm, 2)]
    [InlineData("series", CellType.Gru, 1)]
    public void Release010Checkpoint_RebuildsTheSameModel(string run, CellType cell, int layers)
    {
        LoadedCheckpoint saved = Checkpoint.Load(Fixture(run, "step-00000006.safetensors"));
        Assert.Equal(6, saved.Step);
        SequenceModelOptions options = Assert.IsAssignableFrom<GenerativeModelOptions>(saved.Architecture);
        Assert.Equal(cell, options.Stack.Cell);
        Assert.Equal(layers, options.Stack.Layers);
        Assert.Equal(run == "text" ? typeof(LanguageModelOptions) : typeof(ForecasterOptions), options.GetType());

        Dictionary<string, float[]> values = saved.ToDictionary();
        SequenceModel model = saved.CreateModel();
        try
        {
            Assert.Equal(saved.Parameters.Select(p => p.Name), model.Parameters.Tensors.Select(t => t.Name));
            foreach (var tensor in model.Parameters.Tensors)
            {
                Assert.True(model.Parameters.Value(tensor).SequenceEqual(values[tensor.Name]), tensor.Name);
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    [Theory]
    [InlineData("text", "--text", "text.txt")]
    [InlineData("series", "--csv", "series.csv")]
    public void Release010Checkpoint_ContinuesTrainingToTheBitsRelease010Wrote(string run, string kind, string data)
    {
        string output = Directory.CreateTempSubdirectory("rnn-simd-compat-").FullName;
        try
        {
            string[] args = [
                "train", kind, Fixture(run, data), .. kind == "--csv" ? (string[])["--column", "value"] : [],
                "--out", output, "--resume", Fixture(run, "step-00000006.safetensors"), "--updates", "12", "--every", "6", "--plain",
            ];
            TextWriter savedOut = Console.Out;
            int exit;
            try
            {
                Console.SetOut(TextWriter.Null);
                exit = Simd.Cli.Program.Run(args);
            }
            finally
            {
                Console.SetOut(savedOut);
            }

            Assert.Equal(0, exit);
            using SafeTensorsFile expected = SafeTensorsFile.Open(Fixture(run, "step-00000012.safetensors"));
            using SafeTensorsFile actual = SafeTensorsFile.Open(Path.Combine(output, "step-00000012.safetensors"));
            Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
            foreach (SafeTensorsEntry entry in expected.Tensors)
            {
                byte[] a = new byte[entry.ByteLength], b = new byte[actual.GetEntry(entry.Name).ByteLength];
                expected.ReadBytes(entry.Name, a);
                actual.ReadBytes(entry.Name, b);
                Assert.True(a.AsSpan().SequenceEqual(b), $"tensor {entry.Name} differs from what release 0.1.0 wrote");
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
