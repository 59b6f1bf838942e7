using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// What the demo's experiments add to the library's <see cref="StackWithHead"/> (a recurrent stack and a dense head
/// in one parameter set, trained by one optimiser): the budget's initialisation and trainer, and a fingerprint.
/// </summary>
internal static class ModelTraining
{
    /// <summary>
    /// Draws the weights by the budget's initialisation from its seed and returns a trainer over all of them: Adam at its
    /// learning rate with global-norm clipping at its maximum norm.
    /// </summary>
    public static Trainer Initialize(this StackWithHead model, TrainingBudget budget)
    {
        Initializers.Apply(model.Parameters, budget.Initialization, budget.Seed);
        return new Trainer(model.Parameters, new Adam(budget.LearningRate), new TrainerOptions { MaxGradientNorm = budget.MaxGradientNorm });
    }

    /// <summary>The first 16 hex digits of the SHA-256 of the parameter values' bits: the same on every run and vector width.</summary>
    public static string Fingerprint(this StackWithHead model) =>
        Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(model.Parameters.Values)))[..16];
}
