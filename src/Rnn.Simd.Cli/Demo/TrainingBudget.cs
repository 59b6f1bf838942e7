using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// What every experiment's training has in common: the model's size and initialisation, the batch, and Adam with
/// global-norm clipping for a number of updates. Each experiment's <c>Config</c> adds its own settings.
/// </summary>
internal abstract record TrainingBudget
{
    public RecurrentInitialization Initialization { get; init; } = RecurrentInitialization.PyTorch;

    public int Hidden { get; init; } = 16;

    public int Batch { get; init; } = 32;

    public int Updates { get; init; } = 1000;

    public double LearningRate { get; init; } = 1e-2;

    public double MaxGradientNorm { get; init; } = 1.0;

    /// <summary>Held-out batches of <see cref="Batch"/> sequences (where the test set is in batches).</summary>
    public int TestBatches { get; init; } = 32;

    /// <summary>The seed of the weights; the data's streams derive from it (<see cref="DemoRandom.Stream"/>).</summary>
    public ulong Seed { get; init; } = 1;
}
