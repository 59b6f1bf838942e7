namespace Rnn.Simd.Networks;

/// <summary>The outcome of one training call (<c>ForwardBackward</c>) of any model: the loss and the task's metric.</summary>
/// <param name="Loss">
/// The mean loss over the counted targets: softmax cross-entropy (classifier, tagger, language model,
/// encoder-decoder; NaN when none counted, as PyTorch) or the mean squared error (forecaster).
/// </param>
/// <param name="Correct">Counted targets whose arg-max prediction (the first on ties) was right.</param>
/// <param name="Counted">
/// Targets that counted: not the ignore index (or PAD) and, for a tagger, at a valid step. The forecaster predicts
/// values, not classes: it counts none, and its metric is <paramref name="Loss"/>.
/// </param>
public readonly record struct TrainingResult(double Loss, int Correct, int Counted)
{
    /// <summary>Correct / Counted, or NaN when nothing counted (always for the forecaster).</summary>
    public double Accuracy => Counted == 0 ? double.NaN : (double)Correct / Counted;

    /// <summary>e^Loss: the perplexity of a cross-entropy loss (tokens: how many choices the model hesitates between).</summary>
    public double Perplexity => Math.Exp(Loss);
}
