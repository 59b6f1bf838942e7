using Rnn.Simd.IO;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>The losses against PyTorch's nn.MSELoss and nn.CrossEntropyLoss (ignore_index −100), values and gradients.</summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class LossGoldenTests(ITestOutputHelper output)
{
    private static readonly string s_file = Path.Combine(AppContext.BaseDirectory, "Golden", "losses", "losses.safetensors");

    [Theory]
    [InlineData(LossReduction.Mean)]
    [InlineData(LossReduction.Sum)]
    public void MeanSquaredError_MatchesPyTorch(LossReduction reduction)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_file);
        float[] prediction = file.ReadSingle("mse.prediction"), target = file.ReadSingle("mse.target");
        var gradient = new float[prediction.Length];
        double loss = Losses.MeanSquaredError(prediction, target, gradient, reduction);
        Compare(file, $"mse.{Name(reduction)}", loss, gradient);
    }

    [Theory]
    [InlineData("ce", LossReduction.Mean)]
    [InlineData("ce", LossReduction.Sum)]
    [InlineData("ce_all_ignored", LossReduction.Mean)]
    [InlineData("ce_all_ignored", LossReduction.Sum)]
    public void SoftmaxCrossEntropy_WithIgnoredTargets_MatchesPyTorch(string prefix, LossReduction reduction)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_file);
        float[] logits = file.ReadSingle("ce.logits");
        int[] targets = [.. file.ReadInt64(prefix + ".targets").Select(t => (int)t)];
        int rows = targets.Length, classes = logits.Length / rows;
        var gradient = new float[logits.Length];
        double loss = Losses.SoftmaxCrossEntropy(logits, rows, classes, targets, gradient, reduction);
        Compare(file, $"{prefix}.{Name(reduction)}", loss, gradient);
    }

    private void Compare(SafeTensorsFile file, string name, double loss, float[] gradient) => Compare(output, file, name, loss, gradient);

    /// <summary>
    /// A loss and its gradient against a fixture's float64 PyTorch run ("name.loss.f64", "name.grad.f64"): the loss to
    /// 10⁻⁶ relative, the gradient within 4× PyTorch float32's own error ("name.grad"). A NaN loss (a mean over nothing)
    /// must be NaN; NaN reference gradients there are taken as the zeros the engine writes.
    /// </summary>
    internal static void Compare(ITestOutputHelper output, SafeTensorsFile file, string name, double loss, float[] gradient)
    {
        double referenceLoss = file.ReadDouble(name + ".loss.f64")[0];
        double[] referenceGradient = file.ReadDouble(name + ".grad.f64");
        float[] pyTorchGradient = file.ReadSingle(name + ".grad");
        output.WriteLine($"{name}: loss {loss:R} vs PyTorch float64 {referenceLoss:R}");
        if (double.IsNaN(referenceLoss))
        {
            Assert.True(double.IsNaN(loss), $"{name}: expected NaN (the mean over no counted term), got {loss}.");
        }
        else
        {
            Assert.True(Math.Abs(loss - referenceLoss) <= 1e-6 * Math.Max(1, Math.Abs(referenceLoss)), $"{name}: loss {loss} vs {referenceLoss}.");
        }

        double ours = 0, theirs = 0, scale = 0;
        for (int i = 0; i < gradient.Length; i++)
        {
            double expected = double.IsNaN(referenceGradient[i]) ? 0 : referenceGradient[i];
            ours = Math.Max(ours, Math.Abs(gradient[i] - expected));
            theirs = Math.Max(theirs, Math.Abs(pyTorchGradient[i] - expected));
            scale = Math.Max(scale, Math.Abs(expected));
        }

        output.WriteLine($"{name}: gradient max |err| {ours:E2}, PyTorch float32 {theirs:E2}");
        Assert.True(ours <= 4 * Math.Max(theirs, scale * Math.Pow(2, -24)), $"{name}: gradient error {ours:E3} vs PyTorch float32 {theirs:E3}.");
    }

    internal static string Name(LossReduction reduction) => reduction == LossReduction.Mean ? "mean" : "sum";
}
