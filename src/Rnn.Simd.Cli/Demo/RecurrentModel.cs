using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// A recurrent stack with a dense head, both bound to one <see cref="ParameterSet"/> (tensors <c>rnn.*</c> and
/// <c>head.*</c>) so that one optimiser trains the composite model: y = f_out(W_out h_t + b_out).
/// </summary>
internal sealed class RecurrentModel : IDisposable
{
    public RecurrentModel(RecurrentNetworkOptions options, int outputs, OutputActivation headActivation, bool bias = true)
    {
        Parameters = ParameterSet.Create(
            options.ParameterSpecs("rnn.", bias).Concat(TrainableDenseLayer.Specs(options.LayerOutputSize, outputs, "head.", bias)));
        Network = new TrainableRecurrentNetwork(options, Parameters, "rnn.");
        Head = new TrainableDenseLayer(options.LayerOutputSize, outputs, headActivation, Parameters, "head.");
        Tape = Network.CreateTape();
    }

    public ParameterSet Parameters { get; }

    public TrainableRecurrentNetwork Network { get; }

    public TrainableDenseLayer Head { get; }

    /// <summary>The tape of the latest forward call through <see cref="Network"/>.</summary>
    public RecurrentTape Tape { get; }

    /// <summary>
    /// Draws the weights by the budget's initialisation from its seed and returns a trainer over all of them: Adam at its
    /// learning rate with global-norm clipping at its maximum norm.
    /// </summary>
    public Trainer Initialize(TrainingBudget budget)
    {
        Initializers.Apply(Parameters, budget.Initialization, budget.Seed);
        return new Trainer(Parameters, new Adam(budget.LearningRate), new TrainerOptions { MaxGradientNorm = budget.MaxGradientNorm });
    }

    /// <summary>The first 16 hex digits of the SHA-256 of the parameter values' bits: the same on every run and vector width.</summary>
    public string Fingerprint() => Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(Parameters.Values)))[..16];

    public void Dispose() => Tape.Dispose();
}
