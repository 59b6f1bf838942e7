using Rnn.Simd.Kernels;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.IO;

/// <summary>What <see cref="Checkpoint.Save"/> writes: the state of a training run at one moment.</summary>
/// <remarks>
/// Only <see cref="Parameters"/> is required. Give the <see cref="Trainer"/> when there is one: its optimiser, its
/// options (clipping, non-finite policy) and its counters are saved with it. Give the generators whose future numbers
/// the run depends on (data order, dropout masks, noise), so that a resumed run draws the same numbers.
/// </remarks>
public sealed record CheckpointContent
{
    /// <summary>The model's parameters (values only; gradients are not saved, a run resumes between updates).</summary>
    public required ParameterSet Parameters { get; init; }

    /// <summary>The architecture of the model whose parameters these are (<see cref="SequenceModel.Options"/>), or null;
    /// with it, <see cref="LoadedCheckpoint.CreateModel"/> rebuilds the whole model.</summary>
    public SequenceModelOptions? Architecture { get; init; }

    /// <summary>The optimiser (hyperparameters, current learning rate, step count, moments), or null. When
    /// <see cref="Trainer"/> is given this may be null or must be the trainer's.</summary>
    public Optimizer? Optimizer { get; init; }

    /// <summary>The trainer (its optimiser, options and counters), or null. Its parameters must be <see cref="Parameters"/>.</summary>
    public Trainer? Trainer { get; init; }

    /// <summary>The caller's position in the run (an update or epoch count, ≥ 0), given back by <see cref="LoadedCheckpoint.Step"/>.</summary>
    public long Step { get; init; }

    /// <summary>Generators to save, by name (names non-empty), or null.</summary>
    public IReadOnlyDictionary<string, DeterministicRandom>? Generators { get; init; }

    /// <summary>The caller's own strings (an architecture description, a data set name), or null; given back by
    /// <see cref="LoadedCheckpoint.Metadata"/>.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>
    /// The precision the recurrent weight matrices (<c>weight_ih_l…</c>, <c>weight_hh_l…</c>, <c>weight_hr_l…</c>) are
    /// saved at. <see cref="WeightPrecision.Float32"/> (the default) saves every value exactly, a training state.
    /// <see cref="WeightPrecision.BFloat16"/> or <see cref="WeightPrecision.Int8"/> saves a reduced inference snapshot:
    /// each matrix rounded once from <see cref="Parameters"/> exactly as <c>RecurrentNetwork.WithWeightPrecision</c>
    /// rounds it and stored compact (BF16, or I8 codes with one F32 scale per row of each tensor), half or a quarter
    /// of the float32 bytes; biases, peepholes, embeddings and heads stay F32.
    /// <see cref="LoadedCheckpoint.CreateInferenceModel"/> and <see cref="LoadedCheckpoint.CreateInferenceNetwork"/>
    /// rebuild networks at that precision, bit-identical to reducing <see cref="Parameters"/>' float32 network.
    /// Such a checkpoint holds no float32 master weights, so it carries no optimiser or trainer and is not trained from.
    /// </summary>
    public WeightPrecision WeightPrecision { get; init; }

    /// <summary>The caller's own float tensors by name (state carried between chunks of a stream, a normaliser's
    /// statistics), saved flat and exactly, or null; given back by <see cref="LoadedCheckpoint.Tensors"/>. Values must
    /// be finite.</summary>
    public IReadOnlyDictionary<string, float[]>? Tensors { get; init; }
}
