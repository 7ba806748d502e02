#!/usr/bin/python3
"""PyTorch DistilBertForSequenceClassification, written to match HF exactly.

Same computation and the same state-dict names as transformers' modeling_distilbert
(so a state dict saved from here loads into HF and into vkbert):
embeddings (word + learned position, LayerNorm eps 1e-12, dropout), n_layers
post-LN blocks (q/k/v/out_lin attention with padded keys set to finfo.min
before softmax; sa_layer_norm; ffn lin1 -> exact erf GELU -> lin2;
output_layer_norm), then hidden[:, 0] -> pre_classifier -> ReLU -> dropout ->
classifier.  Linear weights are [out, in] as nn.Linear stores them.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = dict(vocab_size=30522, max_position_embeddings=512, dim=768, n_layers=6, n_heads=12,
                hidden_dim=3072, dropout=0.1, attention_dropout=0.1, seq_classif_dropout=0.2,
                pad_token_id=0, initializer_range=0.02, num_labels=2)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        self.LayerNorm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        return self.dropout(self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos)))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.dim = c["n_heads"], c["dim"]
        assert self.dim % self.n_heads == 0
        self.q_lin = nn.Linear(self.dim, self.dim)
        self.k_lin = nn.Linear(self.dim, self.dim)
        self.v_lin = nn.Linear(self.dim, self.dim)
        self.out_lin = nn.Linear(self.dim, self.dim)
        self.dropout = nn.Dropout(c["attention_dropout"])

    def forward(self, x, mask):
        bs, L, _ = x.shape
        dh = self.dim // self.n_heads

        def shape(t):
            return t.view(bs, L, self.n_heads, dh).transpose(1, 2)

        q = shape(self.q_lin(x)) / math.sqrt(dh)  # HF scales q before the matmul
        k = shape(self.k_lin(x))
        v = shape(self.v_lin(x))
        scores = q @ k.transpose(2, 3)
        if mask is not None:
            keep = mask.view(bs, 1, 1, L).bool()
            scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        w = self.dropout(F.softmax(scores, dim=-1))
        ctx = (w @ v).transpose(1, 2).reshape(bs, L, self.dim)
        return self.out_lin(ctx)


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        return self.dropout(self.lin2(F.gelu(self.lin1(x))))  # F.gelu default is exact erf


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)

    def forward(self, x, mask):
        x = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(x) + x)


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Block(c) for _ in range(c["n_layers"])])

    def forward(self, x, mask):
        for blk in self.layer:
            x = blk(x, mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.transformer = Transformer(c)

    def forward(self, ids, mask=None):
        return self.transformer(self.embeddings(ids), mask)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, config=None, **kw):
        super().__init__()
        c = dict(DEFAULTS)
        c.update(config or {})
        c.update(kw)
        if "id2label" in c:
            c["num_labels"] = len(c["id2label"])
        self.config = c
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c["dim"], c["dim"])
        self.classifier = nn.Linear(c["dim"], c["num_labels"])
        self.dropout = nn.Dropout(c["seq_classif_dropout"])
        self.apply(self._init)

    def _init(self, m):
        # HF DistilBertPreTrainedModel._init_weights
        r = self.config["initializer_range"]
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, r)
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.data.normal_(0.0, r)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            m.bias.data.zero_()
            m.weight.data.fill_(1.0)

    def forward(self, ids, mask=None):
        h = self.distilbert(ids, mask)[:, 0]
        h = self.dropout(F.relu(self.pre_classifier(h)))
        return self.classifier(h)  # logits [bs, num_labels]
