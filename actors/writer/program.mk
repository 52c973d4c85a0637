# viralsup-writer: batched content upserts, fenced result completion.
$(eval $(call program,viralsup-writer,actors/writer/main.c,sql ipc))
