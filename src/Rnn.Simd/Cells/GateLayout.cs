namespace Rnn.Simd.Cells;

/// <summary>
/// The engine's gate order, the only one it knows (importers permute into it). Every layer keeps one fused
/// weight matrix per direction, its rows the gate blocks below and its columns the input, then the recurrent
/// features; biases are folded into one vector in the same row order.
/// </summary>
/// <remarks>
/// <code>
///            columns: 0 … X−1        X … X+Hout−1
///   LSTM     ┌──────────────────┬──────────────────┐
///   rows  0  │ W_xi             │ W_hi             │  i  input gate    σ
///         H  │ W_xf             │ W_hf             │  f  forget gate   σ
///        2H  │ W_xo             │ W_ho             │  o  output gate   σ
///        3H  │ W_xg             │ W_hg             │  g  candidate     tanh
///            └──────────────────┴──────────────────┘
///   GRU rows r (0), z (H), n (2H);   Elman: one block.
/// </code>
/// This is seed 004's Eq. 2, a = W [h; x] + b, with the column blocks in the order [x; h]: each gate
/// pre-activation is one FMA chain over the input terms and then the recurrent terms, so the input
/// projection of all steps can be one GEMM while a streamed step (one GEMV over [x; h]) gives the same bits.
/// σ over i, f, o is one contiguous pass of 3H, tanh over g one pass of H.
/// </remarks>
internal static class GateLayout
{
    /// <summary>LSTM gate blocks, in row order.</summary>
    public const int LstmInput = 0, LstmForget = 1, LstmOutput = 2, LstmCell = 3;

    /// <summary>GRU gate blocks, in row order.</summary>
    public const int GruReset = 0, GruUpdate = 1, GruNew = 2;

    /// <summary>
    /// PyTorch's gate block → the engine's. LSTM: PyTorch packs i, f, g, o; the engine i, f, o, g.
    /// GRU: both r, z, n. Elman: one block.
    /// </summary>
    public static int FromPyTorch(CellType cell, int pyTorchBlock) => cell switch
    {
        CellType.Lstm => pyTorchBlock switch { 0 => LstmInput, 1 => LstmForget, 2 => LstmCell, _ => LstmOutput },
        _ => pyTorchBlock,
    };

    /// <summary>
    /// The engine's gate block → PyTorch's (the inverse of <see cref="FromPyTorch"/>). Backward stores the gate
    /// gradients dG in PyTorch's order, so that each weight gradient is one product written straight into
    /// PyTorch's tensor.
    /// </summary>
    public static int ToPyTorch(CellType cell, int engineBlock) => cell switch
    {
        CellType.Lstm => engineBlock switch { LstmInput => 0, LstmForget => 1, LstmCell => 2, _ => 3 },
        _ => engineBlock,
    };
}
