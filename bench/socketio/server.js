// The signaling server of the classic "WebRTC video chat with Socket.io"
// tutorial, as people deploy it: rooms of two, offer/answer/ICE relayed to the
// other member with socket.to(room).emit(...). Default Socket.io 4 options.
// `cargo xtask bench` runs it with node next to Moim's backend and drives both
// with the same load generator (bench/src).
const http = require('http');
const { Server } = require('socket.io');

const server = http.createServer();
const io = new Server(server);

io.on('connection', (socket) => {
  socket.on('join', (roomId) => {
    const room = io.sockets.adapter.rooms.get(roomId);
    const clients = room ? room.size : 0;
    if (clients === 0) {
      socket.join(roomId);
      socket.emit('room_created', roomId);
    } else if (clients === 1) {
      socket.join(roomId);
      socket.emit('room_joined', roomId);
    } else {
      socket.emit('full_room', roomId);
    }
  });

  socket.on('start_call', (roomId) => {
    socket.to(roomId).emit('start_call');
  });
  socket.on('webrtc_offer', (event) => {
    socket.to(event.roomId).emit('webrtc_offer', event.sdp);
  });
  socket.on('webrtc_answer', (event) => {
    socket.to(event.roomId).emit('webrtc_answer', event.sdp);
  });
  socket.on('webrtc_ice_candidate', (event) => {
    socket.to(event.roomId).emit('webrtc_ice_candidate', event);
  });
});

const port = Number(process.env.PORT || 0);
server.listen(port, '127.0.0.1', () => {
  console.log(`Socket.io is running at http://localhost:${server.address().port}`);
});
