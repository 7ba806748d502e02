#!/usr/bin/python3
"""DistilBERT's weight inventory, stated once for the Python tools.

The same table as loader/distilbert_tensors.c, row for row (the ctest
tensor_table compares `python3 tools/distilbert_tensors.py` with the C
table's print-out): one row per tensor, in the order of Hugging Face's state
dict, with its role, its checkpoint name ("%d": the layer index), its scope
(model-wide, per layer, or the classifier head that only classification
checkpoints have), its shape as config.json fields and its kind.  Encoder
tensors (scope model/layer) carry ENCODER_PREFIX in classification
checkpoints; head tensors are top-level.

Run as a script it prints the table, one tab-separated row per line."""

ENCODER_PREFIX = "distilbert."

# (role, name, scope, shape (config.json fields), kind)
TABLE = [
    ("WORD_EMB", "embeddings.word_embeddings.weight", "model", ("vocab_size", "dim"), "embedding"),
    ("POS_EMB", "embeddings.position_embeddings.weight", "model", ("max_position_embeddings", "dim"), "embedding"),
    ("EMB_LN_W", "embeddings.LayerNorm.weight", "model", ("dim",), "ln_weight"),
    ("EMB_LN_B", "embeddings.LayerNorm.bias", "model", ("dim",), "ln_bias"),
    ("Q_W", "transformer.layer.%d.attention.q_lin.weight", "layer", ("dim", "dim"), "weight"),
    ("Q_B", "transformer.layer.%d.attention.q_lin.bias", "layer", ("dim",), "bias"),
    ("K_W", "transformer.layer.%d.attention.k_lin.weight", "layer", ("dim", "dim"), "weight"),
    ("K_B", "transformer.layer.%d.attention.k_lin.bias", "layer", ("dim",), "bias"),
    ("V_W", "transformer.layer.%d.attention.v_lin.weight", "layer", ("dim", "dim"), "weight"),
    ("V_B", "transformer.layer.%d.attention.v_lin.bias", "layer", ("dim",), "bias"),
    ("O_W", "transformer.layer.%d.attention.out_lin.weight", "layer", ("dim", "dim"), "weight"),
    ("O_B", "transformer.layer.%d.attention.out_lin.bias", "layer", ("dim",), "bias"),
    ("SA_LN_W", "transformer.layer.%d.sa_layer_norm.weight", "layer", ("dim",), "ln_weight"),
    ("SA_LN_B", "transformer.layer.%d.sa_layer_norm.bias", "layer", ("dim",), "ln_bias"),
    ("FFN1_W", "transformer.layer.%d.ffn.lin1.weight", "layer", ("hidden_dim", "dim"), "weight"),
    ("FFN1_B", "transformer.layer.%d.ffn.lin1.bias", "layer", ("hidden_dim",), "bias"),
    ("FFN2_W", "transformer.layer.%d.ffn.lin2.weight", "layer", ("dim", "hidden_dim"), "weight"),
    ("FFN2_B", "transformer.layer.%d.ffn.lin2.bias", "layer", ("dim",), "bias"),
    ("OUT_LN_W", "transformer.layer.%d.output_layer_norm.weight", "layer", ("dim",), "ln_weight"),
    ("OUT_LN_B", "transformer.layer.%d.output_layer_norm.bias", "layer", ("dim",), "ln_bias"),
    ("PRE_W", "pre_classifier.weight", "head", ("dim", "dim"), "weight"),
    ("PRE_B", "pre_classifier.bias", "head", ("dim",), "bias"),
    ("CLS_W", "classifier.weight", "head", ("num_labels", "dim"), "weight"),
    ("CLS_B", "classifier.bias", "head", ("num_labels",), "bias"),
]


def tensors(sizes, n_layers, head=True, prefix=ENCODER_PREFIX):
    """Every tensor of a model, in table order: (role, name, shape, kind).

    sizes maps the shape fields (dim, hidden_dim, vocab_size,
    max_position_embeddings, num_labels) to ints; head=False leaves out the
    classifier head (a base DistilBertModel, whose encoder has no prefix)."""
    def row(r, layer):
        role, name, scope, shape, kind = r
        full = name % layer if scope == "layer" else name
        return role, (prefix if scope != "head" else "") + full, tuple(sizes[f] for f in shape), kind

    out = [row(r, None) for r in TABLE if r[2] == "model"]
    for layer in range(n_layers):
        out += [row(r, layer) for r in TABLE if r[2] == "layer"]
    if head:
        out += [row(r, None) for r in TABLE if r[2] == "head"]
    return out


def main():
    for role, name, scope, shape, kind in TABLE:
        d1 = shape[1] if len(shape) > 1 else "-"
        print("\t".join([role, scope, name, shape[0], d1, kind]))


if __name__ == "__main__":
    main()
