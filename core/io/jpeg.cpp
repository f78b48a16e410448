// libjpeg decode/encode from and to memory (see jpeg.h). libjpeg reports errors through
// error_exit, which longjmps back here; no C++ object with a destructor lives between the
// setjmp and the longjmp.
#include "core/io/jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include "core/common.h"

namespace ebm::io {

namespace {

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error_exit(j_common_ptr info) {
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}
void on_output_message(j_common_ptr) {}  // warnings stay quiet

bool decode_raw(const std::vector<uint8_t>& bytes, Image8* im, ErrorManager* err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->base);
  err->base.error_exit = on_error_exit;
  err->base.output_message = on_output_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  im->width = cinfo.output_width;
  im->height = cinfo.output_height;
  im->channels = cinfo.output_components;
  im->data.resize(static_cast<size_t>(im->width) * im->height * im->channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = im->data.data() + static_cast<size_t>(cinfo.output_scanline) * im->width * im->channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool encode_raw(const Image8& im, int quality, unsigned char** out, unsigned long* size,
                ErrorManager* err) {
  jpeg_compress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->base);
  err->base.error_exit = on_error_exit;
  err->base.output_message = on_output_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, size);
  cinfo.image_width = static_cast<JDIMENSION>(im.width);
  cinfo.image_height = static_cast<JDIMENSION>(im.height);
  cinfo.input_components = im.channels;
  cinfo.in_color_space = im.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(im.data.data() + static_cast<size_t>(cinfo.next_scanline) * im.width * im.channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

Image8 decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8)
    EBM_THROW(IOError, "jpeg: ", source, ": not a JPEG file (bad signature)");
  Image8 im;
  ErrorManager err{};
  if (!decode_raw(bytes, &im, &err))
    EBM_THROW(IOError, "jpeg: ", source, ": cannot decode: ", err.message);
  return im;
}

Image8 read_jpeg(const std::string& path) { return decode_jpeg(read_file_bytes(path), path); }

std::vector<uint8_t> encode_jpeg(const Image8& im, int quality) {
  EBM_CHECK(im.channels == 1 || im.channels == 3, ValueError,
            "encode_jpeg: channels must be 1 or 3, got ", im.channels);
  EBM_CHECK(quality >= 1 && quality <= 100, ValueError, "encode_jpeg: quality must be 1..100");
  EBM_CHECK(im.data.size() == static_cast<size_t>(im.height * im.width * im.channels) &&
                im.height > 0 && im.width > 0,
            ShapeError, "encode_jpeg: image size and data length disagree");
  unsigned char* out = nullptr;
  unsigned long size = 0;
  ErrorManager err{};
  bool ok = encode_raw(im, quality, &out, &size, &err);
  std::vector<uint8_t> bytes;
  if (ok) bytes.assign(out, out + size);
  std::free(out);
  if (!ok) EBM_THROW(IOError, "encode_jpeg: libjpeg failed: ", err.message);
  return bytes;
}

}  // namespace ebm::io
