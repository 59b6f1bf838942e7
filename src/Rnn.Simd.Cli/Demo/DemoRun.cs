using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Demo;

/// <summary>One experiment of the demo: what to train and how to run it.</summary>
/// <param name="Key">A short identifier (<c>adding-lstm</c>) by which the verdicts find the run.</param>
/// <param name="Name">The task, as the results table names it.</param>
/// <param name="Cell">The model or cell, as the results table names it.</param>
/// <param name="Updates">Optimiser updates (the progress bar's length).</param>
/// <param name="Run">Trains and evaluates; reports each update's index and training loss to its callback.</param>
internal sealed record DemoExperiment(string Key, string Name, string Cell, int Updates, Func<Action<int, double>?, ThreadTeam?, DemoRun> Run);

/// <summary>What one experiment measured; one row of the results table and one object of the JSON report.</summary>
/// <param name="Key">The experiment's <see cref="DemoExperiment.Key"/>.</param>
/// <param name="Name">The task.</param>
/// <param name="Cell">The model or cell.</param>
/// <param name="Updates">Optimiser updates done.</param>
/// <param name="FinalLoss">The training loss of the last update.</param>
/// <param name="Accuracy">Held-out accuracy where the task defines one, else null.</param>
/// <param name="TestMse">Held-out mean squared error where the task defines one, else null.</param>
/// <param name="Solved">Whether the run meets the task's success criterion.</param>
/// <param name="Seconds">Wall-clock time of training and evaluation.</param>
/// <param name="Weights">The fingerprint of the trained weights.</param>
/// <param name="Metrics">Further task-specific figures, by their JSON names.</param>
internal sealed record DemoRun(
    string Key, string Name, string Cell, int Updates, double FinalLoss, double? Accuracy, double? TestMse, bool Solved,
    double Seconds, string Weights, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>‖dL/dh_t‖ for t = 0 … T−1 at initialisation, where measured.</summary>
    public float[]? NormsAtStart { get; init; }

    /// <summary>‖dL/dh_t‖ for t = 0 … T−1 after training, where measured.</summary>
    public float[]? NormsAfter { get; init; }
}

/// <summary>One claim of the seeds, checked on the demo's runs.</summary>
/// <param name="Text">The claim and the figures that decide it, in one line.</param>
/// <param name="Holds">Whether the runs show it.</param>
internal sealed record DemoClaim(string Text, bool Holds);
