using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Tests.Training;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// The parts of the generative models in plain double loops (embedding lookup, dense head, losses), around
/// <see cref="ReferenceRecurrent"/> for the stacks: the ground truth of the models' finite-difference checks.
/// </summary>
internal static class ModelReference
{
    /// <summary>Every tensor of the set as its own double array, by full name (the arrays the checks perturb).</summary>
    public static Dictionary<string, double[]> Doubles(ParameterSet set) =>
        set.Tensors.ToDictionary(t => t.Name, t => FiniteDifference.ToDouble(set.Value(t)));

    /// <summary>The tensors under <paramref name="prefix"/>, by their names without it (the same arrays).</summary>
    public static Dictionary<string, double[]> Module(Dictionary<string, double[]> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    public static double[] Embed(double[] table, int dimension, ReadOnlySpan<int> tokens)
    {
        var x = new double[tokens.Length * dimension];
        for (int i = 0; i < tokens.Length; i++)
        {
            Array.Copy(table, tokens[i] * dimension, x, i * dimension, dimension);
        }

        return x;
    }

    /// <summary>y [rows, outputs] = z W^T + b.</summary>
    public static double[] Dense(double[] weight, double[] bias, double[] z, int rows, int inputs, int outputs)
    {
        var y = new double[rows * outputs];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double sum = bias[o];
                for (int i = 0; i < inputs; i++)
                {
                    sum += weight[(o * inputs) + i] * z[(r * inputs) + i];
                }

                y[(r * outputs) + o] = sum;
            }
        }

        return y;
    }

    /// <summary>Mean over the rows whose target is not −100 of −log softmax(logits)[target].</summary>
    public static double CrossEntropy(double[] logits, int classes, ReadOnlySpan<int> targets)
    {
        double sum = 0;
        int counted = 0;
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == Losses.DefaultIgnoreIndex)
            {
                continue;
            }

            double max = double.NegativeInfinity;
            for (int j = 0; j < classes; j++)
            {
                max = Math.Max(max, logits[(r * classes) + j]);
            }

            double total = 0;
            for (int j = 0; j < classes; j++)
            {
                total += Math.Exp(logits[(r * classes) + j] - max);
            }

            sum += max + Math.Log(total) - logits[(r * classes) + targets[r]];
            counted++;
        }

        return sum / counted;
    }

    public static double MeanSquaredError(double[] prediction, ReadOnlySpan<float> target)
    {
        double sum = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            double d = prediction[i] - target[i];
            sum += d * d;
        }

        return sum / prediction.Length;
    }

    /// <summary>Checks the engine's gradient of every tensor against central differences of <paramref name="loss"/>.</summary>
    public static void CheckEveryTensor(ITestOutputHelper output, string label, ParameterSet set, Dictionary<string, double[]> p, Func<double> loss)
    {
        foreach (ParameterTensor t in set.Tensors)
        {
            FiniteDifference.Check(output, $"{label} {t.Name}", loss, p[t.Name], set.Gradient(t));
        }
    }

    /// <summary>Random ids in [lo, hi).</summary>
    public static int[] Tokens(TestRandom random, int count, int lo, int hi)
    {
        var tokens = new int[count];
        for (int i = 0; i < count; i++)
        {
            tokens[i] = lo + random.Next(hi - lo);
        }

        return tokens;
    }

    /// <summary>Fills every tensor of the set uniformly in ±<paramref name="bound"/> (embeddings included), then marks it changed.</summary>
    public static void Randomize(ParameterSet set, ulong seed, float bound = 0.5f)
    {
        new TestRandom(seed).Fill(set.Values, -bound, bound);
        set.MarkChanged();
    }
}
