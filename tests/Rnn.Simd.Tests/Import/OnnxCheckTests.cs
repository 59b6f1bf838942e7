using System.Globalization;
using System.Text;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.IO;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// The judging half of tools/onnx-check/run.sh, which sets ONNX_CHECK_DIR (skipped without it): for every case folder
/// of ONNX_CHECK_DIR/cases (fresh models that are not in the repository, with the outputs <c>rnn-simd infer</c> wrote
/// into out.safetensors), ONNX Runtime runs the same model on the same inputs (a layout-1 node as its layout-0 twin, as
/// <see cref="OnnxRuntimeOracleTests"/> does), and every output of ours must be within 4× ONNX Runtime's own error
/// against the case's float64 reference (floor 1e-6), or within 1e-5 + 1e-4·|x| of ONNX Runtime's where the case has
/// no reference. Every row is written to ONNX_CHECK_DIR/results.tsv before the verdict.
/// </summary>
[Trait("Category", "Import")]
public sealed class OnnxCheckTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void FreshCases_RunByTheCommandLine_AgreeWithOnnxRuntime()
    {
        string? root = Environment.GetEnvironmentVariable("ONNX_CHECK_DIR");
        Skip.If(string.IsNullOrEmpty(root), "ONNX_CHECK_DIR is not set: tools/onnx-check/run.sh sets it.");
        var table = new StringBuilder("case\toutput\tours_vs_ref\tort_vs_ref\tratio\tmax_abs_ours_vs_ort\tverdict\n");
        var failures = new List<string>();
        string[] cases = [.. Directory.GetDirectories(Path.Combine(root, "cases")).Order(StringComparer.Ordinal)];
        Assert.NotEmpty(cases);
        foreach (string dir in cases)
        {
            string name = Path.GetFileName(dir);
            string model = Path.Combine(dir, "model.onnx");
            OnnxGraph graph = OnnxGraph.Parse(File.ReadAllBytes(model), model);
            bool layoutOne = graph.Nodes.Any(n => n.Attributes.TryGetValue("layout", out OnnxAttribute? a) && a.I == 1);
            Dictionary<string, float[]> ort = layoutOne
                ? OnnxRuntimeOracleTests.RunOnnxRuntime(OnnxCase.Read(dir))
                : OnnxRuntimeGraph.Run(model, OnnxRuntimeGraph.Inputs(dir, graph.Inputs.Count));
            using SafeTensorsFile ours = SafeTensorsFile.Open(Path.Combine(dir, "out.safetensors"));
            string referencePath = Path.Combine(dir, "reference.safetensors");
            using SafeTensorsFile? reference = File.Exists(referencePath) ? SafeTensorsFile.Open(referencePath) : null;
            foreach (OnnxValue o in graph.Outputs)
            {
                float[] mine = ours.ReadSingle(o.Name), theirs = ort[o.Name];
                double apart = 0;
                bool close = mine.Length == theirs.Length;
                for (int i = 0; close && i < mine.Length; i++)
                {
                    double d = Math.Abs((double)mine[i] - theirs[i]);
                    apart = Math.Max(apart, d);
                    close &= d <= 1e-5 + (1e-4 * Math.Abs(theirs[i]));
                }

                string row;
                bool pass;
                if (reference is not null)
                {
                    double[] r = reference.ReadDouble(o.Name);
                    double oursToRef = 0, theirsToRef = 0;
                    for (int i = 0; i < r.Length && i < mine.Length; i++)
                    {
                        oursToRef = Math.Max(oursToRef, Math.Abs(mine[i] - r[i]));
                        theirsToRef = Math.Max(theirsToRef, Math.Abs(theirs[i] - r[i]));
                    }

                    double ratio = oursToRef / Math.Max(theirsToRef, 1e-6);
                    pass = r.Length == mine.Length && ratio <= 4;
                    row = string.Create(CultureInfo.InvariantCulture, $"{name}\t{o.Name}\t{oursToRef:E2}\t{theirsToRef:E2}\t{ratio:F3}\t{apart:E2}\t{(pass ? "pass" : "FAIL")}");
                }
                else
                {
                    pass = close;
                    row = string.Create(CultureInfo.InvariantCulture, $"{name}\t{o.Name}\t-\t-\t-\t{apart:E2}\t{(pass ? "pass" : "FAIL")}");
                }

                table.AppendLine(row);
                output.WriteLine(row);
                if (!pass)
                {
                    failures.Add(row);
                }
            }
        }

        File.WriteAllText(Path.Combine(root, "results.tsv"), table.ToString());
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }
}
