// Sinusoidal timestep embedding and per-class parameter rows (see embedding.h).
#include "nn/embedding.h"

#include <cmath>

#include "autograd/ops.h"

namespace ebm::nn {

Tensor sinusoidal_embedding_table(int64_t num_steps, int64_t dim, DType dtype) {
  EBM_CHECK(num_steps > 0 && dim >= 4 && dim % 2 == 0, ValueError,
            "sinusoidal_embedding_table: need num_steps > 0 and an even dim >= 4, got ",
            num_steps, " and ", dim);
  int64_t half = dim / 2;
  // float32 throughout, in the reference's order: scale = ln(1e4)/(half-1); ω_i = exp(-i·scale).
  float scale = std::log(10000.0f) / static_cast<float>(half - 1);
  std::vector<float> table(static_cast<size_t>(num_steps * dim));
  for (int64_t t = 0; t < num_steps; ++t)
    for (int64_t i = 0; i < half; ++i) {
      float arg = static_cast<float>(t) * std::exp(static_cast<float>(i) * -scale);
      table[t * dim + i] = std::sin(arg);
      table[t * dim + half + i] = std::cos(arg);
    }
  return Tensor::from_vector(table, Shape{num_steps, dim}).to(dtype);
}

TimestepEmbedding::TimestepEmbedding(int64_t num_steps, int64_t dim, DType dtype)
    : Module("TimestepEmbedding"), num_steps_(num_steps), dim_(dim) {
  table_ = register_buffer("table", sinusoidal_embedding_table(num_steps, dim, dtype),
                           /*persistent=*/false);
}

Tensor TimestepEmbedding::forward(const Tensor& t) {
  EBM_CHECK(t.defined() && t.dtype() == DType::Int64 && t.dim() == 1, ShapeError,
            "TimestepEmbedding: t must be int64 [N], got ",
            t.defined() ? t.description() : std::string("an undefined tensor"));
  return index_select(*table_, t);  // range-checked there, naming the bad level
}

Tensor rows_for_labels(const Tensor& rows, const Tensor& labels) {
  EBM_CHECK(rows.dim() == 2, ShapeError, "rows_for_labels: rows must be [K, C], got ",
            rows.description());
  Tensor picked = index_select(rows, labels);  // [N, C]
  return reshape(picked, Shape{picked.size(0), picked.size(1), 1, 1});
}

}  // namespace ebm::nn
