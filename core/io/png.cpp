// libpng encode/decode to and from memory (see png.h).
#include "core/io/png.h"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/common.h"
#include "core/io/atomic_file.h"

namespace ebm::io {

namespace {

// libpng reports errors through longjmp; we copy the message and jump back into the plain C
// frame of the caller below, which then throws once no libpng state is live.
struct PngError {
  char message[256] = {0};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

struct Reader {
  const std::vector<uint8_t>* bytes;
  size_t pos;
};

void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (r->pos + n > r->bytes->size()) png_error(png, "file is truncated");
  std::memcpy(out, r->bytes->data() + r->pos, n);
  r->pos += n;
}

void write_to_memory(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void flush_memory(png_structp) {}

// The libpng part of encoding, free of C++ objects with destructors between setjmp and longjmp.
bool encode_raw(const Image8& im, std::vector<png_bytep>& rows, std::vector<uint8_t>* out,
                PngError* err) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  int type = im.channels == 1 ? PNG_COLOR_TYPE_GRAY
             : im.channels == 3 ? PNG_COLOR_TYPE_RGB
                                : PNG_COLOR_TYPE_RGBA;
  png_set_write_fn(png, out, write_to_memory, flush_memory);
  png_set_IHDR(png, info, static_cast<png_uint_32>(im.width), static_cast<png_uint_32>(im.height),
               8, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

bool decode_raw(Reader* reader, Image8* im, PngError* err) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_set_read_fn(png, reader, read_from_memory);
  png_read_info(png, info);
  png_set_expand(png);  // palette → RGB, low-bit gray → 8 bits, tRNS → alpha
  png_set_strip_16(png);
  png_set_packing(png);
  png_read_update_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int channels = png_get_channels(png, info);
  if (channels == 2) {  // gray + alpha: widen to RGBA so callers see 1, 3 or 4 channels
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    channels = png_get_channels(png, info);
  }
  if (static_cast<uint64_t>(w) * h * channels > (uint64_t(1) << 31)) png_error(png, "image too large");
  im->width = w;
  im->height = h;
  im->channels = channels;
  im->data.resize(static_cast<size_t>(w) * h * channels);
  for (png_uint_32 y = 0; y < h; ++y)
    png_read_row(png, im->data.data() + static_cast<size_t>(y) * w * channels, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(const Image8& im) {
  EBM_CHECK(im.channels == 1 || im.channels == 3 || im.channels == 4, ValueError,
            "encode_png: channels must be 1, 3 or 4, got ", im.channels);
  EBM_CHECK(im.height > 0 && im.width > 0 &&
                im.data.size() == static_cast<size_t>(im.height * im.width * im.channels),
            ShapeError, "encode_png: ", im.height, "x", im.width, "x", im.channels, " image needs ",
            im.height * im.width * im.channels, " bytes, got ", im.data.size());
  std::vector<png_bytep> rows(static_cast<size_t>(im.height));
  for (int64_t y = 0; y < im.height; ++y)
    rows[y] = const_cast<png_bytep>(im.data.data() + y * im.width * im.channels);
  std::vector<uint8_t> out;
  PngError err;
  if (!encode_raw(im, rows, &out, &err))
    EBM_THROW(IOError, "encode_png: libpng failed: ", err.message);
  return out;
}

void write_png(const std::string& path, const Image8& image) {
  write_file_atomic(path, encode_png(image));
}

Image8 decode_png(const std::vector<uint8_t>& bytes, const std::string& source) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0)
    EBM_THROW(IOError, "png: ", source, ": not a PNG file (bad signature)");
  Reader reader{&bytes, 0};
  Image8 im;
  PngError err;
  if (!decode_raw(&reader, &im, &err))
    EBM_THROW(IOError, "png: ", source, ": cannot decode: ", err.message);
  return im;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) EBM_THROW(IOError, "cannot open '", path, "': ", std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) EBM_THROW(IOError, "reading '", path, "' failed: ", std::strerror(errno));
  return bytes;
}

Image8 read_png(const std::string& path) { return decode_png(read_file_bytes(path), path); }

}  // namespace ebm::io
