namespace Rnn.Simd.Networks;

/// <summary>The outcome of one training forward-backward call of a <see cref="SequenceClassifier"/> or <see cref="SequenceTagger"/>.</summary>
/// <param name="Loss">The mean softmax cross-entropy over the counted labels (NaN when none counted, as PyTorch).</param>
/// <param name="Correct">Counted labels whose arg-max prediction (the first on ties) was right.</param>
/// <param name="Counted">Labels that counted: not the ignore index and, for a tagger, at a valid step.</param>
public readonly record struct ClassificationResult(double Loss, int Correct, int Counted)
{
    /// <summary>Correct / Counted, or NaN when nothing counted.</summary>
    public double Accuracy => Counted == 0 ? double.NaN : (double)Correct / Counted;
}
